/* 车窗抛物 console pages: JSON forms and action buttons that call the staff APIs, the evidence
 * lightbox and the review map. Needs zh.js (X-CSRFToken, one error shape).
 *   <form class="js-api" data-api="/api/..." [data-idempotent] [data-next="/x/NUMBER"] data-done="...">
 *     fields by name; data-kind on a field: int, int-null, yuan (to fen), yuan-null, list,
 *     text-null (empty sends null); other empty fields are left out; <input type="file"
 *     data-upload> is uploaded to /api/v1/media first and sends the media id.
 *   <button data-post="/api/..." data-body='{"json": 1}' data-confirm="..." data-done="...">
 * After success the page reloads (or goes to data-next) and shows data-done; a 409 (someone
 * else acted first, the four-eyes rule, an earlier report pending) is shown as the server says. */
(function () {
  "use strict";
  var FLASH_KEY = "zh-littering-flash";
  var saved = sessionStorage.getItem(FLASH_KEY);
  if (saved) { sessionStorage.removeItem(FLASH_KEY); zh.flash(saved); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function done(text, next) {
    sessionStorage.setItem(FLASH_KEY, text || "操作成功");
    if (next) window.location = next; else location.reload();
  }

  function convert(el) {
    var raw = el.value.trim(), kind = el.dataset.kind || "";
    if (kind === "list") return raw ? raw.split(/[\s,，、]+/).filter(Boolean) : [];
    if (raw === "") return /-null$/.test(kind) ? null : undefined;
    if (kind === "int" || kind === "int-null") return parseInt(raw, 10);
    if (kind === "yuan" || kind === "yuan-null") return Math.round(parseFloat(raw) * 100);
    return raw;
  }

  /* A field's messages as one line (a nested field's key is no word people read). */
  function messages(v) {
    if (Array.isArray(v)) return v.map(messages).join("；");
    if (v && typeof v === "object") return Object.keys(v).map(function (k) { return messages(v[k]); }).join("；");
    return String(v);
  }

  /* Each field's message next to it; the rest in the flash, without the API's field keys. */
  function showErrors(form, err) {
    var rest = [];
    Object.keys(err.fields || {}).forEach(function (name) {
      var box = form && form.querySelector('.field-error[data-for="' + name + '"]');
      var text = messages(err.fields[name]);
      if (box) { box.textContent = text; box.hidden = false; } else rest.push(text);
    });
    zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
  }

  function upload(form) {
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file][data-upload]"));
    var progress = form.querySelector(".upload-progress"), ids = {};
    return inputs.reduce(function (chain, input) {
      return chain.then(function () {
        if (!input.files.length) return null;
        if (progress) progress.textContent = "正在上传凭证…";
        var body = new FormData();
        body.append("file", input.files[0]);
        return zh.api("POST", "/api/v1/media", body).then(function (m) { ids[input.name] = m.id; });
      });
    }, Promise.resolve()).then(function () {
      if (progress) progress.textContent = "";
      return ids;
    });
  }

  function body(form, uploaded) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.disabled) return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      var value = convert(el);
      if (value !== undefined) out[el.name] = value;
    });
    Object.keys(uploaded).forEach(function (k) { out[k] = uploaded[k]; });
    return out;
  }

  document.querySelectorAll("form.js-api").forEach(function (form) {
    var key = form.hasAttribute("data-idempotent") ? newKey() : null;  // one per form: retries reuse it
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      form.querySelectorAll(".field-error").forEach(function (el) { el.hidden = true; });
      var missing = Array.prototype.filter.call(form.querySelectorAll("[required]"), function (el) { return !el.value.trim(); });
      if (missing.length) { zh.flash("请填写必填项", true); missing[0].focus(); return; }
      if (form.dataset.check && window.zhLittering && !window.zhLittering[form.dataset.check](form)) return;
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      upload(form).then(function (ids) {
        return zh.api("POST", form.dataset.api, body(form, ids), key ? {"Idempotency-Key": key} : undefined);
      }).then(function (data) {
        var next = form.dataset.next && data && data.number ? form.dataset.next.replace("NUMBER", encodeURIComponent(data.number)) : null;
        done(form.dataset.done, next);
      }).catch(function (e) {
        buttons.forEach(function (b) { b.disabled = false; });
        showErrors(form, e);
      });
    });
  });

  document.querySelectorAll("button[data-post]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
      btn.disabled = true;
      var body = btn.dataset.body ? JSON.parse(btn.dataset.body) : undefined;
      zh.api("POST", btn.dataset.post, body).then(function () { done(btn.dataset.done); })
        .catch(function (e) { btn.disabled = false; showErrors(null, e); });
    });
  });

  // ------------------------------------------------------------ review page

  var review = document.getElementById("review-form");
  if (review) {
    var reasonRow = document.getElementById("reason-row"), reason = document.getElementById("reason");
    review.addEventListener("change", function (e) {
      if (e.target.name !== "decision") return;
      reasonRow.hidden = e.target.value !== "invalid";
      reason.required = e.target.value === "invalid";
      if (e.target.value !== "invalid") reason.value = "";
    });
    window.zhLittering = {decision: function (form) {
      if (form.querySelector("input[name=decision]:checked")) return true;
      var box = form.querySelector('.field-error[data-for="decision"]');
      box.textContent = "请选择有效或无效"; box.hidden = false;
      return false;
    }};
    review.dataset.check = "decision";
  }

  var lightbox = document.getElementById("lightbox");
  if (lightbox) {
    document.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest("a.zoom");
      if (!link) return;
      e.preventDefault();
      lightbox.querySelector("img").src = link.href;
      lightbox.hidden = false;
    });
    lightbox.addEventListener("click", function () { lightbox.hidden = true; });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") lightbox.hidden = true; });
  }

  var mapEl = document.getElementById("report-map"), cfgEl = document.getElementById("map-config");
  if (mapEl && cfgEl && window.zhMap) {
    var cfg = JSON.parse(cfgEl.textContent);
    var map = zhMap.base(mapEl, {tileUrl: cfg.tileUrl, attribution: cfg.attribution,
                                 center: [cfg.lat, cfg.lng], zoom: cfg.tileUrl ? 16 : 12});
    if (!cfg.tileUrl) zhMap.boundaries(map, cfg.boundaries, false).catch(function () {});
    L.circleMarker([cfg.lat, cfg.lng], {radius: 8, color: "#f5222d", fillOpacity: 0.8})
      .bindTooltip("事发位置").addTo(map);
  }
})();
