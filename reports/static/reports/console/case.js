/* 案件详情: the action forms (only those the API listed as allowed are on the page) and the map.
 * An action POSTs to /api/v1/staff/reports/<number>/actions/<name> with the case version (409 if
 * someone changed the case meanwhile); on success the page reloads and says 操作成功.
 * An irreversible action (its form carries data-confirm: 作废, 不予立案, 合并) first asks in the
 * page's dialog, naming the consequence; 取消 sends nothing. Choosing a category pre-selects the
 * unit responsible for it where the case lies (data-unit), unless a unit was picked by hand. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("case-config").textContent);
  var FLASH_KEY = "zh-case-flash";

  var saved = sessionStorage.getItem(FLASH_KEY);
  if (saved) { sessionStorage.removeItem(FLASH_KEY); zh.flash(saved); }

  function show(name) {
    document.querySelectorAll(".action-form").forEach(function (f) {
      f.hidden = f.dataset.action !== name;
    });
    var form = document.getElementById("form-" + name);
    if (form) {
      var first = form.querySelector("select, input, textarea");
      if (first) first.focus();
    }
  }

  document.querySelectorAll(".action-buttons [data-action]").forEach(function (btn) {
    btn.addEventListener("click", function () { show(btn.dataset.action); });
  });

  function upload(form) {
    var input = form.querySelector('input[type="file"][name="photos"]');
    var files = input ? Array.prototype.slice.call(input.files) : [];
    var progress = form.querySelector(".upload-progress");
    var ids = [];
    return files.reduce(function (chain, file, i) {
      return chain.then(function () {
        if (progress) progress.textContent = "正在上传照片 " + (i + 1) + "/" + files.length + "…";
        var body = new FormData();
        body.append("file", file);
        return zh.api("POST", "/api/v1/media", body).then(function (m) { ids.push(m.id); });
      });
    }, Promise.resolve()).then(function () {
      if (progress) progress.textContent = files.length ? "已上传 " + files.length + " 张照片" : "";
      return ids;
    });
  }

  function body(form, photos) {
    var out = {version: cfg.version, photos: photos};
    var el = form.elements;
    ["note", "reason", "category", "target", "public_reply"].forEach(function (k) {
      if (el[k] && el[k].value.trim()) out[k] = el[k].value.trim();
    });
    if (el.department_id && el.department_id.value) out.department_id = parseInt(el.department_id.value, 10);
    if (el.extension_amount) {
      out.extension = {amount: parseInt(el.extension_amount.value, 10), unit: el.extension_unit.value};
    }
    return out;
  }

  function missing(form) {
    var empty = Array.prototype.filter.call(form.querySelectorAll("[required]"), function (el) {
      return !el.value.trim();
    });
    if (!empty.length) return false;
    var names = empty.map(function (el) {
      var label = form.querySelector('label[for="' + el.id + '"]');
      return label ? label.textContent : el.name;
    });
    zh.flash("请填写：" + names.join("、"), true);
    empty[0].focus();
    return true;
  }

  var dialog = document.getElementById("confirm-dialog");

  /* Resolves true on 确定, false on 取消 or Esc. */
  function confirmed(form) {
    if (!form.dataset.confirm || !dialog) return Promise.resolve(true);
    document.getElementById("confirm-title").textContent = "确认" + form.dataset.label + "？";
    var text = form.dataset.confirm;
    var target = form.elements.target;
    if (target && target.value.trim()) text += "（合并至案件 " + target.value.trim() + "）";
    document.getElementById("confirm-text").textContent = text;
    return new Promise(function (resolve) {
      function done(answer) {
        dialog.removeEventListener("close", onClose);
        if (dialog.open) dialog.close();
        resolve(answer);
      }
      function onClose() { done(false); }
      document.getElementById("confirm-ok").onclick = function () { done(true); };
      document.getElementById("confirm-cancel").onclick = function () { done(false); };
      dialog.addEventListener("close", onClose);
      dialog.showModal();
    });
  }

  function followCategory(form) {
    var category = form.elements.category, unit = form.elements.department_id;
    if (!category || !unit || !category.tagName || category.tagName !== "SELECT") return;
    var hint = form.querySelector(".suggested");
    unit.addEventListener("change", function () { unit.dataset.picked = "1"; });
    category.addEventListener("change", function () {
      var chosen = category.options[category.selectedIndex];
      var id = chosen ? chosen.dataset.unit : "";
      var option = id ? unit.querySelector('option[value="' + id + '"]') : null;
      if (hint) hint.textContent = option ? "建议：" + option.textContent.trim() : "";
      if (!option || unit.dataset.picked) return;
      unit.value = id;
    });
  }

  document.querySelectorAll(".action-form").forEach(function (form) {
    form.querySelector(".cancel").addEventListener("click", function () { form.hidden = true; });
    followCategory(form);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (missing(form)) return;
      confirmed(form).then(function (yes) { if (yes) send(form); });
    });
  });

  function send(form) {
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var url = "/api/v1/staff/reports/" + encodeURIComponent(cfg.number) + "/actions/" + form.dataset.action;
    upload(form).then(function (photos) {
      return zh.api("POST", url, body(form, photos));
    }).then(function () {
      sessionStorage.setItem(FLASH_KEY, "操作成功：" + form.dataset.label);
      /* A returned case leaves the department: its page is no longer the handler's to see. */
      if (form.dataset.action === "return") location.href = document.getElementById("back").href;
      else location.reload();
    }).catch(function (e) {
      buttons.forEach(function (b) { b.disabled = false; });
      zh.fail(e);
    });
  }

  var mapEl = document.getElementById("case-map");
  if (mapEl && window.zhMap && cfg.lat != null) {
    var map = zhMap.base(mapEl, {tileUrl: cfg.tileUrl, attribution: cfg.attribution,
                                 center: [cfg.lat, cfg.lng], zoom: cfg.tileUrl ? 16 : 12});
    if (!cfg.tileUrl) {  /* no base map: the district boundaries give the point its context */
      zhMap.boundaries(map, cfg.boundaries, false).catch(function () {});
    }
    L.circleMarker([cfg.lat, cfg.lng], {radius: 8, color: "#f5222d", fillOpacity: 0.8})
      .bindTooltip("问题位置").addTo(map);
  }
})();
