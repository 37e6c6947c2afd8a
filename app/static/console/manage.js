/* 智慧城管 console: helpers shared by the management pages (shops, facilities, admin editors).
 * Loaded after zh.js; every request goes through zh.api (session cookie + X-CSRFToken).
 *   zhm.config               the page's JSON configuration (<script id="manage-config">)
 *   zhm.values(form)         typed values of the form's named controls (data-type int/float/bool/list)
 *   zhm.fill(form, obj)      put values into the form's controls
 *   zhm.changed(now, before) the keys of `now` whose value differs from `before`
 *   zhm.check(form)          client-side required/format hints next to the fields; true when fine
 *   zhm.send(opts)           one write: buttons disabled while sending, 422 errors by the fields,
 *                            409 as "refresh and retry", success flash; resolves data or null
 *   zhm.lister(opts)         a server-paged table with filters kept in the address bar
 *   zhm.map(el) / zhm.picker(el, form)   Leaflet map (tiles or district boundaries), point picker
 *   zhm.ask(title, opts)     a dialog asking for a reason; resolves the text or null
 *   zhm.fail(e, form)        an API error as a flash, its fields named by their labels
 *   zhm.typeLabel(code) / zhm.typeCodes(extra)   department types: Chinese name; codes by name
 */
(function () {
  "use strict";
  var STALE = "数据已被他人修改，请刷新后重试";
  var cfgEl = document.getElementById("manage-config");
  var config = cfgEl ? JSON.parse(cfgEl.textContent) : {};

  function controls(form) {
    return Array.prototype.filter.call(form.elements, function (c) {
      return c.name && !c.disabled && c.type !== "file" && c.tagName !== "BUTTON" &&
        c.type !== "submit" && c.type !== "button";
    });
  }

  function read(c) {
    var type = c.dataset.type || "";
    var raw = c.type === "checkbox" ? c.checked : String(c.value).trim();
    if (c.type === "checkbox") return type === "bool" || !type ? raw : (raw ? c.value : "");
    if (type === "int") return raw === "" ? null : parseInt(raw, 10);
    if (type === "float") return raw === "" ? null : parseFloat(raw);
    if (type === "bool") return raw === "" ? null : raw === "true";
    if (type === "list") return raw === "" ? [] : raw.split(/[,，、\s]+/).filter(Boolean);
    return raw;
  }

  function values(form) {
    var out = {};
    controls(form).forEach(function (c) { out[c.name] = read(c); });
    return out;
  }

  function fill(form, obj) {
    controls(form).forEach(function (c) {
      if (!(c.name in obj)) return;
      var v = obj[c.name];
      if (c.type === "checkbox") { c.checked = !!v; return; }
      if (Array.isArray(v)) v = v.join(",");
      c.value = v == null ? "" : String(v);
    });
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function changed(now, before) {
    return Object.keys(now).filter(function (k) {
      var b = before[k];
      if (now[k] === "" && b == null) return false;
      return !same(now[k], b);
    });
  }

  function pick(obj, keys) {
    var out = {};
    keys.forEach(function (k) { if (k in obj) out[k] = obj[k]; });
    return out;
  }

  function compact(obj) {
    var out = {};
    Object.keys(obj).forEach(function (k) {
      if (obj[k] !== null && obj[k] !== "") out[k] = obj[k];
    });
    return out;
  }

  /* -- field errors ------------------------------------------------------------------------ */

  function errorSlot(form, name) {
    var slot = form.querySelector('[data-error-for="' + name + '"]');
    if (slot) return slot;
    var c = form.querySelector('[name="' + name + '"]') ||
      form.querySelector('[data-errors~="' + name + '"]');
    if (!c) return null;
    slot = document.createElement("small");
    slot.className = "field-error";
    slot.dataset.errorFor = c.name;
    c.insertAdjacentElement("afterend", slot);
    return slot;
  }

  var messageOf = zh.messageOf, labelOf = zh.labelOf;

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (s) { s.textContent = ""; s.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach(function (c) { c.removeAttribute("aria-invalid"); });
  }

  /* Shows each field's message next to it; returns the messages that have no field. */
  function showErrors(form, fields) {
    var rest = {};
    Object.keys(fields || {}).forEach(function (k) {
      var target = form.querySelector('[name="' + k + '"]') ||
        form.querySelector('[data-errors~="' + k + '"]');
      var slot = target ? errorSlot(form, target.name) : form.querySelector('[data-error-for="' + k + '"]');
      if (!slot) { rest[k] = fields[k]; return; }
      slot.textContent = (slot.textContent ? slot.textContent + "；" : "") + messageOf(fields[k]);
      slot.hidden = false;
      if (target) target.setAttribute("aria-invalid", "true");
    });
    return rest;
  }

  /* An API error as a flash (zh.fail: the fields named by their labels). */
  function fail(e, form) { zh.fail(e, form); }

  function check(form) {
    clearErrors(form);
    var first = null;
    controls(form).forEach(function (c) {
      if (!c.willValidate || c.checkValidity()) return;
      var text = c.validity.valueMissing ? "请填写" + (labelOf(c) || "此项")
        : (c.dataset.hint || "格式不正确");
      showErrors(form, (function () { var o = {}; o[c.name] = [text]; return o; })());
      first = first || c;
    });
    if (first) { first.focus(); zh.flash("请按提示补全或修改标红的内容", true); }
    return !first;
  }

  /* -- writes ------------------------------------------------------------------------------ */

  function setBusy(els, busy) {
    els.forEach(function (b) {
      if (busy) { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; }
      else { b.disabled = b.dataset.wasDisabled === "1"; }
    });
  }

  /* opts: method, url, body, form (errors shown there), button (extra), ok (flash text). */
  function send(opts) {
    var form = opts.form;
    var buttons = form ? Array.prototype.slice.call(form.querySelectorAll("button")) : [];
    if (opts.button && buttons.indexOf(opts.button) < 0) buttons.push(opts.button);
    if (form) clearErrors(form);
    setBusy(buttons, true);
    return zh.api(opts.method, opts.url, opts.body).then(function (data) {
      setBusy(buttons, false);
      if (opts.ok) zh.flash(opts.ok);
      return data == null || data === "" ? {} : data;  // 204: no body
    }, function (e) {
      setBusy(buttons, false);
      var rest = form && e.fields ? showErrors(form, e.fields) : e.fields;
      var text = e.status === 409 ? (e.message || STALE) : e.message;
      if (rest && Object.keys(rest).length) text += "（" + zh.fieldText(rest, form) + "）";
      else if (e.fields && e.code === "validation_failed") text = "提交的内容有误，请按提示修改";
      zh.flash(text, true);
      return null;
    });
  }

  /* -- server-paged lists ------------------------------------------------------------------- */

  function formFromQuery(form) {
    var params = new URLSearchParams(location.search);
    controls(form).forEach(function (c) { if (params.has(c.name)) c.value = params.get(c.name); });
    var page = parseInt(params.get("page"), 10);
    return page > 0 ? page : 1;
  }

  function filterValues(form) {
    var out = {};
    controls(form).forEach(function (c) { out[c.name] = String(c.value).trim(); });
    return out;
  }

  function statusRow(tbody, text, cls) {
    var cols = tbody.closest("table").querySelectorAll("thead th").length || 1;
    tbody.innerHTML = '<tr><td colspan="' + cols + '" class="' + (cls || "muted") + '">' +
      zh.esc(text) + "</td></tr>";
  }

  /* opts: url, form (filters), tbody, pager, row(item) -> "<tr>..", perPage, loaded(data). */
  function lister(opts) {
    var current = 1;
    var perPage = opts.perPage || 20;
    function load(page) {
      current = page || 1;
      var filters = filterValues(opts.form);
      history.replaceState(null, "", location.pathname + zh.qs(Object.assign({}, filters,
        {page: current > 1 ? current : ""})));
      statusRow(opts.tbody, "加载中…");
      var query = Object.assign({}, filters, {page: current, per_page: perPage});
      return zh.api("GET", opts.url + zh.qs(query)).then(function (data) {
        if (data.items.length) opts.tbody.innerHTML = data.items.map(opts.row).join("");
        else statusRow(opts.tbody, "没有符合条件的记录");
        zh.pager(opts.pager, data.page, data.per_page, data.total, load);
        if (opts.loaded) opts.loaded(data);
        return data;
      }, function (e) { statusRow(opts.tbody, e.message, "error-text"); fail(e, opts.form); });
    }
    opts.form.addEventListener("submit", function (ev) { ev.preventDefault(); load(1); });
    opts.form.addEventListener("reset", function () { setTimeout(function () { load(1); }, 0); });
    var first = formFromQuery(opts.form);
    load(first);
    return {load: load, reload: function () { return load(current); }};
  }

  /* -- maps --------------------------------------------------------------------------------- */

  var CENTER = [41.80, 123.43];

  function map(el) {
    var m = L.map(el, {preferCanvas: true, zoomControl: false}).setView(CENTER, 11);
    L.control.zoom({zoomInTitle: "放大", zoomOutTitle: "缩小"}).addTo(m);  // not Leaflet's English
    m.attributionControl.setPrefix("Leaflet");
    if (config.tileUrl) {
      zh.geo().then(function (g) { g.tiles(config.tileUrl, config.tileAttribution, 18).addTo(m); });
    } else if (config.boundaries) {
      zh.api("GET", config.boundaries).then(function (fc) {
        L.geoJSON(fc, {interactive: false, style: function (f) {
          var city = f.properties && f.properties.level === "city";
          return {color: city ? "#333" : "#1677ff", weight: city ? 2 : 1, fill: false};
        }}).addTo(m);
      }, function () { /* the map still works for picking without boundaries */ });
      // No base map: the streets and their names say where a point is.
      zh.geo().then(function (g) { return g.streets(m, config.boundaries); }).catch(function () {});
    }
    return m;
  }

  /* A map whose click sets the form's lat/lng (GCJ-02, the map's system). */
  function picker(el, form) {
    var m = map(el);
    var marker = null;
    var lat = form.elements.lat, lng = form.elements.lng, sys = form.elements.coord_sys;
    function place(at, pan) {
      if (!marker) marker = L.circleMarker(at, {radius: 8, color: "#f5222d", weight: 3}).addTo(m);
      else marker.setLatLng(at);
      if (pan) m.setView(at, Math.max(m.getZoom(), 14));
    }
    m.on("click", function (ev) {
      lat.value = ev.latlng.lat.toFixed(6);
      lng.value = ev.latlng.lng.toFixed(6);
      if (sys) sys.value = "gcj02";
      lat.dispatchEvent(new Event("change", {bubbles: true}));
      place(ev.latlng, false);
    });
    function sync() {
      var a = parseFloat(lat.value), b = parseFloat(lng.value);
      if (isNaN(a) || isNaN(b) || (sys && sys.value !== "gcj02")) return;
      place([a, b], true);
    }
    [lat, lng].forEach(function (c) { c.addEventListener("input", sync); });
    return {map: m, show: sync, clear: function () {
      if (marker) { m.removeLayer(marker); marker = null; }
    }, refresh: function () { m.invalidateSize(); }};
  }

  /* -- the reason dialog -------------------------------------------------------------------- */

  function ask(title, opts) {
    opts = opts || {};
    var dlg = document.getElementById("manage-ask");
    var form = dlg.querySelector("form");
    var input = form.elements.reason;
    dlg.querySelector("#manage-ask-title").textContent = title;
    form.querySelector('button[value="ok"]').textContent = opts.okText || "确定";
    input.value = "";
    input.required = !!opts.required;
    input.minLength = opts.minLength || 0;
    input.placeholder = opts.placeholder || (opts.required ? "请填写原因" : "原因（选填）");
    clearErrors(form);
    return new Promise(function (resolve) {
      function done(ev) {
        var ok = ev.submitter && ev.submitter.value === "ok";
        if (ok && !check(form)) { ev.preventDefault(); return; }
        form.removeEventListener("submit", done);
        dlg.removeEventListener("cancel", cancel);
        resolve(ok ? input.value.trim() : null);
      }
      function cancel() {
        form.removeEventListener("submit", done);
        dlg.removeEventListener("cancel", cancel);
        resolve(null);
      }
      form.addEventListener("submit", done);
      dlg.addEventListener("cancel", cancel);
      dlg.showModal();
      input.focus();
    });
  }

  /* -- small renderers ---------------------------------------------------------------------- */

  function tag(text, kind) {
    return '<span class="tag' + (kind ? " " + kind : "") + '">' + zh.esc(text) + "</span>";
  }

  function yesNo(v) { return v == null ? "未知" : (v ? "是" : "否"); }

  /* Department types are codes (data: categories name the type of department that handles
   * them). People read the Chinese name; a type an admin added under a new code shows its code. */
  var TYPES = {municipal: "市政设施", sanitation: "环境卫生", enforcement: "综合执法",
               landscaping: "园林绿化", street: "街道", gas: "燃气", water: "供水",
               power: "电力", traffic: "交通", housing: "房屋"};
  function typeLabel(code) { return TYPES[code] || code; }
  /* The known types and `extra` codes (those in use), ordered by their Chinese names. */
  function typeCodes(extra) {
    var seen = {};
    Object.keys(TYPES).concat(extra || []).forEach(function (c) { if (c) seen[c] = 1; });
    return Object.keys(seen).sort(function (a, b) { return typeLabel(a).localeCompare(typeLabel(b), "zh-CN"); });
  }

  window.zhm = {config: config, STALE: STALE, values: values, fill: fill, changed: changed,
                pick: pick, compact: compact, check: check, clearErrors: clearErrors,
                showErrors: showErrors, send: send, lister: lister, map: map, picker: picker,
                ask: ask, tag: tag, yesNo: yesNo, typeLabel: typeLabel, typeCodes: typeCodes,
                statusRow: statusRow, fail: fail};
})();
