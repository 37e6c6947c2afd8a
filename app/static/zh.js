/* 智慧城管: the helpers every console and H5 page uses (no build step, no framework).
 * The page's <meta name="csrf-token"> and <meta name="login-url"> are read once.
 *   zh.api(method, url, body, headers) -> Promise of the parsed JSON (headers: optional extras,
 *     e.g. Idempotency-Key); rejects with an Error whose
 *     .message is the server's Chinese message (our one error shape) and .code/.fields/.status.
 *   zh.flash(text, isError), zh.esc(text), zh.time(iso), zh.qs(obj), zh.pager(el, page, total, go)
 *   zh.toLogin(): to the sign-in page, returning here afterwards
 *   zh.geo(): Promise of window.zhGeo, the maps' shared geography (app/static/geomap.js: streets
 *     with names, tile URLs, district boxes), loaded once per page on first use
 */
(function () {
  "use strict";
  var GEO_SRC = ((document.currentScript && document.currentScript.src) || "").replace(/zh\.js(\?.*)?$/, "geomap.js");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var loginUrl = (document.querySelector('meta[name="login-url"]') || {}).content || "";

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  /* To the sign-in page (<meta name="login-url">), coming back to this page afterwards. */
  function toLogin() {
    if (!loginUrl) return;
    window.location = loginUrl + (loginUrl.indexOf("?") >= 0 ? "&" : "?") + "next=" + encodeURIComponent(location.pathname + location.search);
  }

  function api(method, url, body, headers) {
    var opts = {method: method, credentials: "same-origin",
                headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    Object.keys(headers || {}).forEach(function (k) { opts.headers[k] = headers[k]; });
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      var parsed = resp.status === 204 ? Promise.resolve(null)
        : type.indexOf("json") >= 0 ? resp.json() : resp.text();
      return parsed.then(function (data) {
        if (resp.ok) return data;
        var err = (data && data.error) || {};
        var e = new Error(err.message || ("请求失败（" + resp.status + "）"));
        e.code = err.code; e.fields = err.fields; e.status = resp.status;
        if (resp.status === 401) toLogin();
        throw e;
      });
    }, function () {
      throw new Error("网络异常，请检查网络后重试");
    });
  }

  /* An error message list as one line; a list item's errors are named by their place, and a
   * nested field's key is no word people read. */
  function messageOf(v) {
    if (Array.isArray(v)) return v.map(messageOf).join("；");
    if (v && typeof v === "object") {
      return Object.keys(v).map(function (k) {
        return (/^\d+$/.test(k) ? "第 " + (+k + 1) + " 项：" : "") + messageOf(v[k]);
      }).join("；");
    }
    return String(v);
  }

  /* The text of a control's <label> (without the required mark), or "". */
  function labelOf(c) {
    var label = c.id && (c.form || document).querySelector('label[for="' + c.id + '"]');
    if (!label && c.closest) label = c.closest("label");
    return label ? label.textContent.replace(/[*＊\s]/g, "") : "";
  }

  /* What people call a field: the label of its control in `form` (else on the page), or "". */
  function fieldName(key, form) {
    var scope = form || document;
    var c = scope.querySelector('[name="' + key + '"]') ||
      scope.querySelector('[data-errors~="' + key + '"]');
    return c ? labelOf(c) : "";
  }

  /* Field errors as one line people read: "标签：原因" where the field has a label, else the
   * reason alone (never the API's field key). */
  function fieldText(fields, form) {
    return Object.keys(fields || {}).map(function (k) {
      var name = fieldName(k, form);
      return (name ? name + "：" : "") + messageOf(fields[k]);
    }).join("；");
  }

  function flash(text, isError) {
    var el = document.getElementById("flash");
    if (!el) return;
    el.textContent = text;
    el.className = "flash" + (isError ? " error" : "");
    el.hidden = false;
    if (!isError) setTimeout(function () { if (el.textContent === text) el.hidden = true; }, 4000);
  }

  /* An API error as a flash, the fields named by their labels in `form` (else on the page). */
  function fail(e, form) {
    var rest = e.fields ? fieldText(e.fields, form) : "";
    flash(e.message + (rest ? "（" + rest + "）" : ""), true);
  }

  /* "YYYY-MM-DD HH:mm" in the city's time (Asia/Shanghai), as the server renders times, whatever
   * the browser's own time zone. */
  var cityTime = new Intl.DateTimeFormat("en-CA", {timeZone: "Asia/Shanghai", hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"});
  function time(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    var f = {};
    cityTime.formatToParts(d).forEach(function (part) { f[part.type] = part.value; });
    return f.year + "-" + f.month + "-" + f.day + " " + f.hour + ":" + f.minute;
  }

  function qs(obj) {
    var parts = [];
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      if (v !== "" && v != null && v !== false) parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /* Server-side paging: `total` items, `perPage` a page; go(page) loads another page. */
  function pager(el, page, perPage, total, go) {
    var pages = Math.max(1, Math.ceil(total / perPage));
    el.innerHTML = "";
    var prev = document.createElement("button");
    prev.className = "btn"; prev.textContent = "上一页"; prev.disabled = page <= 1;
    prev.onclick = function () { go(page - 1); };
    var next = document.createElement("button");
    next.className = "btn"; next.textContent = "下一页"; next.disabled = page >= pages;
    next.onclick = function () { go(page + 1); };
    var info = document.createElement("span");
    info.className = "muted"; info.textContent = "第 " + page + " / " + pages + " 页，共 " + total + " 条";
    el.appendChild(prev); el.appendChild(info); el.appendChild(next);
  }

  function geo() {
    if (window.zhGeo) return Promise.resolve(window.zhGeo);
    if (!window.zhGeoLoading) {
      window.zhGeoLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = GEO_SRC;
        s.onload = function () { resolve(window.zhGeo); };
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return window.zhGeoLoading;
  }

  window.zh = {geo: geo, api: api, esc: esc, flash: flash, fail: fail, time: time, qs: qs, pager: pager,
               fieldText: fieldText, messageOf: messageOf, labelOf: labelOf, csrf: csrf,
               toLogin: toLogin};
})();
