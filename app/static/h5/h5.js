/* 智慧城管 citizen H5 pages: helpers shared by report.js and detail.js (needs zh.js first).
 *   h5.toast(text)                    WeUI toast (#toast from h5/_toast.html), hides itself
 *   h5.showErrors(fields, aliases)    server field errors next to the fields (#error-<field>);
 *                                     returns the messages no field on the page could show
 *   h5.clearErrors()                  hide every field error and the #flash banner
 *   h5.fieldOk(name)                  hide one field's error (and the banner if none is left)
 *     A shown error is announced (role="alert") and tied to its control: aria-invalid="true" and
 *     aria-describedby="error-<field>", both taken off again when the error goes. The control is
 *     the error element's data-for (ids), else the field named <field> (a radio: its
 *     radiogroup), else the element with that id, else the one text control of the form block
 *     just before the error element.
 *   h5.upload(url, blob, onProgress)  XMLHttpRequest upload (multipart field "file") with
 *                                     progress; a Promise with .abort(), rejecting like zh.api
 *   h5.map(el, center, opts)          a Leaflet map configured from el.dataset.config: tiles,
 *                                     else district and street lines with names (geomap.js);
 *                                     zoom buttons named 放大 / 缩小, and with opts.locate(map)
 *                                     a 定位到我的位置 button (Enter and Space work on all three)
 *   h5.geo()                          Promise of window.zhGeo (app/static/geomap.js)
 *   h5.submitReport(form, opts)       a report form's submit (see below)
 *   h5.freshPhotos(root, renew)       photos whose short-lived links expired are given new ones
 *   h5.viewer                         the full-screen photo viewer: any element with
 *                                     data-viewer (a thumbnail link or button holding an <img>)
 *                                     opens it, with the others of its [data-viewer-group]
 */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };

  function toast(text) {
    var box = $("toast");
    if (!box) { zh.flash(text); return; }
    $("toast-text").textContent = text;
    box.hidden = true;
    void box.offsetWidth;  // shown again from display:none, the fade-out animation restarts
    box.hidden = false;
  }

  function messages(value) {
    if (Array.isArray(value)) return value.map(messages).join("；");
    if (value && typeof value === "object") return Object.keys(value).map(function (k) { return messages(value[k]); }).join("；");
    return String(value == null ? "" : value);
  }

  // ------------------------------------------------------------ field errors

  var TEXT_CONTROLS = 'input:not([type="hidden"]):not([type="button"]):not([type="submit"]), textarea, select';

  /* The controls an error element speaks of (see the header). */
  function controlsOf(errorEl) {
    var named = errorEl.getAttribute("data-for");
    if (named) return named.split(/\s+/).map($).filter(Boolean);
    var field = errorEl.id.replace(/^error-/, "");
    var found = [];
    Array.prototype.forEach.call(document.getElementsByName(field), function (el) {
      if (el.type === "hidden") return;
      var control = (el.type === "radio" && el.closest('[role="radiogroup"]')) || el;
      if (found.indexOf(control) < 0) found.push(control);
    });
    if (found.length) return found;
    var byId = $(field);
    if (byId && byId.type !== "hidden") return [byId];
    var block = errorEl.previousElementSibling;
    while (block && block.classList.contains("h5-field-error")) block = block.previousElementSibling;
    var inside = block ? block.querySelectorAll(TEXT_CONTROLS) : [];
    return inside.length === 1 ? [inside[0]] : [];
  }

  function tie(errorEl, on) {
    if (!errorEl.id) return;
    controlsOf(errorEl).forEach(function (control) {
      var ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
        return id && id !== errorEl.id;
      });
      if (on) {
        ids.push(errorEl.id);
        control.setAttribute("aria-invalid", "true");
      } else {
        control.removeAttribute("aria-invalid");
      }
      if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
      else control.removeAttribute("aria-describedby");
    });
  }

  function hideError(el) {
    el.hidden = true;
    el.textContent = "";
    tie(el, false);
  }

  function showErrors(fields, aliases) {
    var rest = [];
    Object.keys(fields || {}).forEach(function (name) {
      var target = (aliases && aliases[name]) || name;
      var el = $("error-" + target);
      var text = messages(fields[name]);
      if (!el) { rest.push(text); return; }
      if (!el.getAttribute("role")) el.setAttribute("role", "alert");
      el.textContent = el.hidden ? text : el.textContent + "；" + text;
      el.hidden = false;
      tie(el, true);
    });
    var first = document.querySelector(".h5-field-error:not([hidden])");
    if (first && first.scrollIntoView) first.scrollIntoView({block: "center", behavior: "smooth"});
    return rest;
  }

  function hideFlash() {
    var flash = $("flash");
    if (flash) flash.hidden = true;
  }

  function clearErrors() {
    Array.prototype.forEach.call(document.querySelectorAll(".h5-field-error[id]"), hideError);
    hideFlash();
  }

  /* A field the citizen has put right: its error goes, and the banner once no error is left. */
  function fieldOk(name) {
    var el = $("error-" + name);
    if (el && !el.hidden) hideError(el);
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

  // ------------------------------------------------------------ maps

  var LOCATE_ICON = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zm8.94 3A9 9 0 0 0 13 3.06V1h-2v2.06A9 9 0 0 0 ' +
    '3.06 11H1v2h2.06A9 9 0 0 0 11 20.94V23h2v-2.06A9 9 0 0 0 20.94 13H23v-2h-2.06zM12 19a7 7 0 1 1 0-14 7 7 0 0 1 0 14z"/></svg>';

  /* Leaflet's bar buttons are <a role="button">: Space presses them too, as it does a button. */
  function spacePresses(container) {
    container.addEventListener("keydown", function (e) {
      var a = e.target.closest && e.target.closest('a[role="button"]');
      if (a && !e.defaultPrevented && (e.key === " " || e.key === "Spacebar")) { e.preventDefault(); a.click(); }
    });
  }

  function locateControl(onLocate) {
    var Control = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function (m) {
        var bar = L.DomUtil.create("div", "leaflet-bar leaflet-control h5-locate-control");
        var a = L.DomUtil.create("a", "h5-locate-btn", bar);
        a.href = "#";
        a.setAttribute("role", "button");
        a.title = "定位到我的位置";
        a.setAttribute("aria-label", "定位到我的位置");
        a.innerHTML = LOCATE_ICON;
        L.DomEvent.disableClickPropagation(bar);
        L.DomEvent.on(a, "click", function (e) { L.DomEvent.preventDefault(e); onLocate(m); });
        return bar;
      }
    });
    return new Control();
  }

  /* opts.fit === false: keep the view the caller sets (the report form zooms to a district).
   * opts.locate(map): what 定位到我的位置 does (no such button without it). */
  function map(el, center, opts) {
    opts = opts || {};
    var cfg = {};
    try { cfg = JSON.parse(el.dataset.config || "{}"); } catch (ignored) { cfg = {}; }
    var fit = !center && opts.fit !== false;
    var m = L.map(el, {attributionControl: !!cfg.tileUrl, zoomControl: false});
    L.control.zoom({zoomInTitle: "放大", zoomOutTitle: "缩小"}).addTo(m);
    if (opts.locate) locateControl(opts.locate).addTo(m);
    spacePresses(m.getContainer());
    if (el.getAttribute("aria-label") && !el.getAttribute("role")) el.setAttribute("role", "region");
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
  // opts: {button, label, url, detailUrl, key, body(), localErrors(), aliases, done(report)}
  // (done: called once the report is filed, before the report's page opens)
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
        if (opts.done) opts.done(report);
        toast("提交成功");
        window.location = opts.detailUrl.replace("NUMBER", encodeURIComponent(report.number)) + "?submitted=1";
      }, function (err) {
        busy(false);
        var rest = err.fields ? showErrors(err.fields, opts.aliases) : [];
        zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
      });
    });
  }

  // ------------------------------------------------------------ short-lived photo links
  // Photo links are signed and expire (MEDIA_URL_TTL_SECONDS): a page left open, a slow network
  // or a thumbnail loaded late meets a link whose time is up, and the image fails. Such an
  // <img data-photo="key"> under `root` is hidden (no broken image) while renew() -> Promise of
  // {key: fresh url} (the case's JSON again, say) is asked, once for all that fail together;
  // it then loads from its new link. One that still fails after RENEWALS tries says so in words.
  // root.zhRenewPhotos() asks for fresh links at once (the viewer does, for its big photo).
  var RENEWALS = 2;

  function freshPhotos(root, renew) {
    var pending = null;

    function refresh() {
      if (!pending) {
        pending = Promise.resolve().then(renew).then(function (urls) {
          pending = null;
          urls = urls || {};
          apply(urls);
          return urls;
        }, function (err) {
          pending = null;
          throw err;
        });
      }
      return pending;
    }

    function apply(urls) {
      Array.prototype.forEach.call(root.querySelectorAll("img[data-photo]"), function (img) {
        var url = urls[img.dataset.photo];
        if (!url) return;
        var link = img.closest("a[href]");
        if (link && root.contains(link)) link.href = url;  // "open in a new tab" works too
        var waiting = !img.complete || img.classList.contains("h5-img_renewing") ||
                      img.classList.contains("h5-img_broken");
        if (waiting && img.getAttribute("src") !== url) img.src = url;
      });
    }

    function note(img, text) {
      var el = img.nextElementSibling;
      if (!(el && el.classList.contains("h5-img-note"))) {
        if (!text) return;
        el = document.createElement("span");
        el.className = "h5-img-note";
        img.parentNode.insertBefore(el, img.nextSibling);
      }
      if (text) el.textContent = text; else el.remove();
    }

    function broken(img) {
      img.classList.remove("h5-img_renewing");
      img.classList.add("h5-img_broken");
      note(img, "图片暂时无法显示");
    }

    function failed(img) {
      var tries = (img.zhRenewals || 0) + 1;
      img.zhRenewals = tries;
      if (tries > RENEWALS) { broken(img); return; }
      var before = img.getAttribute("src");
      img.classList.add("h5-img_renewing");
      refresh().then(function () {
        if (img.getAttribute("src") === before) broken(img);  // no new link for this one
      }, function () { broken(img); });
    }

    function loaded(img) {
      img.zhRenewals = 0;
      img.classList.remove("h5-img_renewing", "h5-img_broken");
      note(img, "");
    }

    function isPhoto(node) { return node && node.tagName === "IMG" && node.dataset.photo; }
    root.addEventListener("error", function (e) { if (isPhoto(e.target)) failed(e.target); }, true);
    root.addEventListener("load", function (e) { if (isPhoto(e.target)) loaded(e.target); }, true);
    root.zhRenewPhotos = refresh;
    // Those that failed before this script ran.
    Array.prototype.forEach.call(root.querySelectorAll("img[data-photo]"), function (img) {
      if (img.complete && img.getAttribute("src") && !img.naturalWidth) failed(img);
    });
    return refresh;
  }

  function renewerOf(node) {
    while (node && !node.zhRenewPhotos) node = node.parentNode;
    return node ? node.zhRenewPhotos : null;
  }

  // ------------------------------------------------------------ photo viewer
  // Full screen over the page: 上一张 / 下一张 (buttons, arrow keys, a swipe), 关闭 (button, Esc,
  // a tap beside the photo, the phone's back button). Pinch zoom is the browser's own: nothing
  // here stops it, and a swipe while zoomed in pans instead of turning the page.

  var SWIPE = 50;
  var viewer = null;

  function viewerBox() {
    if (viewer) return viewer;
    var box = document.createElement("div");
    box.className = "h5-viewer";
    box.id = "h5-viewer";
    box.hidden = true;
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "查看照片");
    box.innerHTML =
      '<div class="h5-viewer__stage" id="h5-viewer-stage">' +
      '<img class="h5-viewer__img" id="h5-viewer-img" alt="">' +
      '<p class="h5-viewer__status" id="h5-viewer-status" hidden></p></div>' +
      '<p class="h5-viewer__count" id="h5-viewer-count" aria-live="polite"></p>' +
      '<button type="button" class="h5-viewer__btn h5-viewer__close" id="h5-viewer-close" aria-label="关闭" title="关闭">' +
      '<span aria-hidden="true">×</span></button>' +
      '<button type="button" class="h5-viewer__btn h5-viewer__prev" id="h5-viewer-prev" aria-label="上一张" title="上一张">' +
      '<span aria-hidden="true">‹</span></button>' +
      '<button type="button" class="h5-viewer__btn h5-viewer__next" id="h5-viewer-next" aria-label="下一张" title="下一张">' +
      '<span aria-hidden="true">›</span></button>';
    document.body.appendChild(box);
    viewer = {box: box, img: $("h5-viewer-img"), status: $("h5-viewer-status"), count: $("h5-viewer-count"),
              close: $("h5-viewer-close"), prev: $("h5-viewer-prev"), next: $("h5-viewer-next"),
              items: [], index: 0, opener: null, pushed: false, shown: 0};

    viewer.close.addEventListener("click", function () { closeViewer(false); });
    viewer.prev.addEventListener("click", function () { step(-1); });
    viewer.next.addEventListener("click", function () { step(1); });
    $("h5-viewer-stage").addEventListener("click", function (e) {
      if (e.target.id === "h5-viewer-stage") closeViewer(false);  // beside the photo
    });
    viewer.img.addEventListener("load", function () {
      viewer.img.classList.remove("h5-viewer__img_loading");
      viewer.status.hidden = true;
    });
    viewer.img.addEventListener("error", bigPhotoFailed);

    var touch = null;  // one finger's start; null once a second finger joins (a pinch)
    box.addEventListener("touchstart", function (e) {
      touch = e.touches.length === 1 ? {x: e.touches[0].clientX, y: e.touches[0].clientY} : null;
    }, {passive: true});
    box.addEventListener("touchmove", function (e) { if (e.touches.length > 1) touch = null; }, {passive: true});
    box.addEventListener("touchend", function (e) {
      var start = touch, end = e.changedTouches[0];
      touch = null;
      if (!start || !end || e.touches.length) return;
      var zoomed = window.visualViewport && window.visualViewport.scale > 1.05;
      var dx = end.clientX - start.x, dy = end.clientY - start.y;
      if (!zoomed && Math.abs(dx) > SWIPE && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
    }, {passive: true});

    document.addEventListener("keydown", function (e) {
      if (box.hidden) return;
      if (e.key === "Escape" || e.key === "Esc") { e.preventDefault(); closeViewer(false); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
      else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
      else if (e.key === "Tab") trapFocus(e);
    });
    window.addEventListener("popstate", function () {
      if (!box.hidden) { viewer.pushed = false; closeViewer(true); }
    });
    return viewer;
  }

  function trapFocus(e) {
    var stops = [viewer.close, viewer.prev, viewer.next].filter(function (b) { return !b.hidden && !b.disabled; });
    var at = stops.indexOf(document.activeElement);
    var to = e.shiftKey ? (at <= 0 ? stops.length - 1 : at - 1) : (at < 0 || at >= stops.length - 1 ? 0 : at + 1);
    e.preventDefault();
    stops[to].focus();
  }

  function thumbOf(item) { return item.tagName === "IMG" ? item : item.querySelector("img"); }

  function show(index) {
    var v = viewer, n = v.items.length, thumb = thumbOf(v.items[index]);
    v.index = index;
    v.shown += 1;
    v.tries = 0;
    v.img.alt = thumb ? thumb.alt : "";
    v.count.textContent = (index + 1) + "/" + n + (thumb && thumb.alt ? " " + thumb.alt : "");
    v.prev.hidden = v.next.hidden = n < 2;
    v.prev.disabled = index === 0;
    v.next.disabled = index === n - 1;
    v.status.textContent = "正在加载……";
    v.status.hidden = false;
    v.img.classList.add("h5-viewer__img_loading");
    var src = thumb ? (thumb.currentSrc || thumb.getAttribute("src")) : "";
    if (src) v.img.src = src; else bigPhotoFailed();
  }

  /* The big photo failed (its link expired, most likely): fresh links once, then words. */
  function bigPhotoFailed() {
    var v = viewer, mine = v.shown, item = v.items[v.index], thumb = item ? thumbOf(item) : null;
    var renew = thumb && thumb.dataset.photo ? renewerOf(thumb) : null;
    function giveUp() {
      if (mine !== v.shown) return;
      v.status.textContent = "图片暂时无法显示，请稍后再试";
      v.status.hidden = false;
    }
    if (!renew || v.tries >= 1) { giveUp(); return; }
    v.tries += 1;
    renew().then(function (urls) {
      var url = urls[thumb.dataset.photo];
      if (mine !== v.shown) return;  // another photo is shown meanwhile
      if (url && url !== v.img.getAttribute("src")) v.img.src = url; else giveUp();
    }, giveUp);
  }

  function step(by) {
    var to = viewer.index + by;
    if (to >= 0 && to < viewer.items.length) show(to);
  }

  function openViewer(items, index, opener) {
    var v = viewerBox();
    v.items = Array.prototype.slice.call(items);
    v.opener = opener || document.activeElement;
    v.box.hidden = false;
    document.body.classList.add("h5-viewer-open");
    document.documentElement.classList.add("h5-viewer-open");
    if (!v.pushed && window.history && history.pushState) {  // the back button closes it
      history.pushState({h5Viewer: true}, "");
      v.pushed = true;
    }
    show(Math.max(0, Math.min(index, v.items.length - 1)));
    v.close.focus();
  }

  function closeViewer(fromHistory) {
    var v = viewer;
    if (!v || v.box.hidden) return;
    v.box.hidden = true;
    v.shown += 1;
    v.img.removeAttribute("src");
    document.body.classList.remove("h5-viewer-open");
    document.documentElement.classList.remove("h5-viewer-open");
    if (v.pushed && !fromHistory) { v.pushed = false; history.back(); }
    if (v.opener && v.opener.focus) v.opener.focus();
  }

  document.addEventListener("click", function (e) {
    var trigger = e.target.closest && e.target.closest("[data-viewer]");
    if (!trigger || e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
    e.preventDefault();
    var group = trigger.closest("[data-viewer-group]") || trigger.parentNode;
    var items = Array.prototype.slice.call(group.querySelectorAll("[data-viewer]"));
    openViewer(items, items.indexOf(trigger), trigger);
  });

  window.h5 = {toast: toast, showErrors: showErrors, clearErrors: clearErrors, fieldOk: fieldOk,
               upload: upload, map: map, geo: zh.geo, submitReport: submitReport,
               freshPhotos: freshPhotos,
               viewer: {open: openViewer, close: function () { closeViewer(false); }}};
})();
