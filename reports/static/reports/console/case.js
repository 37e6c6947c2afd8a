/* 案件详情: the action forms (only those the API listed as allowed are on the page) and the map.
 * An action POSTs to /api/v1/staff/reports/<number>/actions/<name> with the case version (409 if
 * someone changed the case meanwhile); on success the page reloads and says 操作成功. */
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
    ["note", "reason", "category", "target"].forEach(function (k) {
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

  document.querySelectorAll(".action-form").forEach(function (form) {
    form.querySelector(".cancel").addEventListener("click", function () { form.hidden = true; });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (missing(form)) return;
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      var url = "/api/v1/staff/reports/" + encodeURIComponent(cfg.number) + "/actions/" + form.dataset.action;
      upload(form).then(function (photos) {
        return zh.api("POST", url, body(form, photos));
      }).then(function () {
        sessionStorage.setItem(FLASH_KEY, "操作成功：" + form.dataset.label);
        location.reload();
      }).catch(function (e) {
        buttons.forEach(function (b) { b.disabled = false; });
        zh.fail(e);
      });
    });
  });

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
