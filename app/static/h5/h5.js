/* 智慧城管 citizen H5 pages: helpers shared by report.js and detail.js (needs zh.js first).
 *   h5.toast(text)                    WeUI toast (#toast from h5/_toast.html), hides itself
 *   h5.showErrors(fields, aliases)    server field errors next to the fields (#error-<field>);
 *                                     returns the messages no field on the page could show
 *   h5.clearErrors()                  hide every field error and the #flash banner
 *   h5.fieldOk(name)                  hide one field's error (and the banner if none is left)
 *   h5.upload(url, blob, onProgress)  XMLHttpRequest upload (multipart field "file") with
 *                                     progress; a Promise with .abort(), rejecting like zh.api
 *   h5.map(el, center, opts)          a Leaflet map configured from el.dataset.config: tiles,
 *                                     else district and street lines with names (geomap.js)
 *   h5.geo()                          Promise of window.zhGeo (app/static/geomap.js)
 */
(function () {
  "use strict";
  function toast(text) {
    var box = document.getElementById("toast");
    if (!box) { zh.flash(text); return; }
    document.getElementById("toast-text").textContent = text;
    box.hidden = true;
    void box.offsetWidth;  // shown again from display:none, the fade-out animation restarts
    box.hidden = false;
  }

  function messages(value) {
    if (Array.isArray(value)) return value.map(messages).join("；");
    if (value && typeof value === "object") return Object.keys(value).map(function (k) { return messages(value[k]); }).join("；");
    return String(value == null ? "" : value);
  }

  function showErrors(fields, aliases) {
    var rest = [];
    Object.keys(fields || {}).forEach(function (name) {
      var target = (aliases && aliases[name]) || name;
      var el = document.getElementById("error-" + target);
      var text = messages(fields[name]);
      if (!el) { rest.push(text); return; }
      el.textContent = el.hidden ? text : el.textContent + "；" + text;
      el.hidden = false;
    });
    var first = document.querySelector(".h5-field-error:not([hidden])");
    if (first && first.scrollIntoView) first.scrollIntoView({block: "center", behavior: "smooth"});
    return rest;
  }

  function hideFlash() {
    var flash = document.getElementById("flash");
    if (flash) flash.hidden = true;
  }

  function clearErrors() {
    Array.prototype.forEach.call(document.querySelectorAll(".h5-field-error"), function (el) {
      el.hidden = true; el.textContent = "";
    });
    hideFlash();
  }

  /* A field the citizen has put right: its error goes, and the banner once no error is left. */
  function fieldOk(name) {
    var el = document.getElementById("error-" + name);
    if (el) el.hidden = true;
    if (!document.querySelector(".h5-field-error:not([hidden])")) hideFlash();
  }

  document.addEventListener("click", function (e) {
    if (e.target && e.target.id === "flash") hideFlash();  // a tap dismisses the banner
  });

  function upload(url, blob, onProgress) {
    var xhr = new XMLHttpRequest();
    var promise = new Promise(function (resolve, reject) {
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", zh.csrf);
      xhr.upload.onprogress = function (e) { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (ignored) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300 && data) { resolve(data); return; }
        var err = (data && data.error) || {};
        var e = new Error(err.message || ("照片上传失败（" + xhr.status + "）"));
        e.code = err.code; e.fields = err.fields; e.status = xhr.status;
        if (xhr.status === 401) zh.toLogin();
        reject(e);
      };
      xhr.onerror = function () { reject(new Error("网络异常，照片上传失败")); };
      xhr.onabort = function () { var e = new Error("已取消上传"); e.aborted = true; reject(e); };
      var body = new FormData();
      body.append("file", blob, "photo.jpg");
      xhr.send(body);
    });
    promise.abort = function () { xhr.abort(); };
    return promise;
  }


  /* opts.fit === false: keep the view the caller sets (the report form zooms to a district). */
  function map(el, center, opts) {
    var cfg = {};
    try { cfg = JSON.parse(el.dataset.config || "{}"); } catch (ignored) { cfg = {}; }
    var fit = !center && !(opts && opts.fit === false);
    var m = L.map(el, {attributionControl: !!cfg.tileUrl});
    el.zhMap = m;  // the element knows its map (page scripts, the browser tests)
    if (cfg.tileUrl) zh.geo().then(function (g) { g.tiles(cfg.tileUrl, cfg.attribution, 19).addTo(m); });
    // Without a base map a close zoom shows an empty square: stay out far enough to see the
    // street lines and their names (geomap.js shows the names from zoom 13).
    m.setView(center || cfg.centre || [41.80, 123.43], center ? (cfg.tileUrl ? 16 : 13) : 11);
    if (cfg.boundaries) {
      fetch(cfg.boundaries).then(function (r) { return r.json(); }).then(function (fc) {
        var layer = L.geoJSON(fc, {interactive: false, style: function (f) {
          var city = f.properties && f.properties.level === "city";
          return {color: city ? "#333" : "#1677ff", weight: city ? 2 : 1, fill: false};
        }}).addTo(m);
        if (fit && layer.getBounds().isValid()) m.fitBounds(layer.getBounds());
      }).catch(function () { /* the map still works without the outlines */ });
      if (!cfg.tileUrl) {
        zh.geo().then(function (g) { return g.streets(m, cfg.boundaries); })
          .catch(function () { /* the districts alone still place a point */ });
      }
    }
    return m;
  }

  // A report form's submit: local checks first, one Idempotency-Key per form (a retry after a
  // network error reuses it), field errors next to their fields, then the report's page.
  // opts: {button, label, url, detailUrl, key, body(), localErrors(), aliases}
  function submitReport(form, opts) {
    var sending = false;
    function busy(on) {
      sending = on;
      opts.button.disabled = on;
      opts.button.classList.toggle("weui-btn_loading", on);
      opts.button.innerHTML = on ? '<i class="weui-loading"></i>正在提交' : opts.label;
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (sending) return;
      clearErrors();
      var errors = opts.localErrors();
      if (Object.keys(errors).length) {
        showErrors(errors);
        zh.flash("请先完善标红的内容", true);
        return;
      }
      busy(true);
      zh.api("POST", opts.url, opts.body(), {"Idempotency-Key": opts.key}).then(function (report) {
        toast("提交成功");
        window.location = opts.detailUrl.replace("NUMBER", encodeURIComponent(report.number)) + "?submitted=1";
      }, function (err) {
        busy(false);
        var rest = err.fields ? showErrors(err.fields, opts.aliases) : [];
        zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
      });
    });
  }

  window.h5 = {toast: toast, showErrors: showErrors, clearErrors: clearErrors, fieldOk: fieldOk,
               upload: upload, map: map, geo: zh.geo, submitReport: submitReport};
})();
