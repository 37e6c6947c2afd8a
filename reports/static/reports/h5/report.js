/* 智慧城管 H5 "我要上报": photos (downscaled here, uploaded one by one with progress), location
 * (device or map), description with category suggestions, and an idempotent submit.
 * Needs zh.js, h5.js and (for the map) Leaflet; element ids are those of h5/report.html. */
(function () {
  "use strict";
  var MAX_PHOTOS = 9, MAX_SIDE = 1600, QUALITY = 0.8, SUGGEST_DELAY = 400;
  var form = document.getElementById("report-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var urls = form.dataset;
  var idempotencyKey = newKey();  // one per form: a retry after a network error reuses it

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // ------------------------------------------------------------ photos

  var photos = [];  // {file, status: waiting|uploading|done|failed, mediaId, el, request}
  var batch = {total: 0, done: 0};
  var input = $("photo-input"), list = $("photo-list");

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";  // choosing the same photo again fires change again
    var room = MAX_PHOTOS - photos.length;
    if (files.length > room) zh.flash("最多上传" + MAX_PHOTOS + "张照片，已为您保留前" + Math.max(room, 0) + "张", true);
    files.slice(0, Math.max(room, 0)).forEach(addPhoto);
    pump();
  });

  function addPhoto(file) {
    var el = document.createElement("li");
    el.className = "weui-uploader__file weui-uploader__file_status";
    el.innerHTML = '<div class="weui-uploader__file-content">等待上传</div>' +
      '<button type="button" class="h5-photo-remove" aria-label="删除这张照片">×</button>';
    var item = {file: file, status: "waiting", mediaId: null, el: el, request: null};
    el.querySelector(".h5-photo-remove").addEventListener("click", function (e) {
      e.stopPropagation();
      removePhoto(item);
    });
    el.addEventListener("click", function () {
      if (item.status === "failed") { item.status = "waiting"; batch.total += 1; setStatus(item, "等待上传"); pump(); }
    });
    photos.push(item);
    batch.total += 1;
    list.appendChild(el);
    countPhotos();
  }

  function removePhoto(item) {
    if (item.request) item.request.abort();
    if (item.status !== "done" && item.status !== "failed") batch.total = Math.max(0, batch.total - 1);
    photos.splice(photos.indexOf(item), 1);
    item.el.remove();
    countPhotos();
    pump();
  }

  function countPhotos() {
    $("photo-count").textContent = photos.length;
    $("photo-add").hidden = photos.length >= MAX_PHOTOS;
  }

  function setStatus(item, text) {
    item.el.classList.toggle("weui-uploader__file_status", !!text);
    item.el.querySelector(".weui-uploader__file-content").textContent = text || "";
  }

  function downscale(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () {
        var w = img.naturalWidth, h = img.naturalHeight, scale = Math.min(1, MAX_SIDE / Math.max(w, h));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(w * scale));
        canvas.height = Math.max(1, Math.round(h * scale));
        var ctx = canvas.getContext("2d");
        ctx.fillStyle = "#fff";  // transparent PNG areas become white, not black
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) {
          if (blob) resolve(blob); else reject(new Error("照片处理失败，请换一张照片"));
        }, "image/jpeg", QUALITY);
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        var e = new Error("无法读取这张图片，请选择 JPG 或 PNG 格式的照片");
        e.unreadable = true;  // retrying cannot help: the photo is dropped
        reject(e);
      };
      img.src = url;
    });
  }

  function pump() {
    var busy = photos.some(function (p) { return p.status === "uploading"; });
    var next = photos.filter(function (p) { return p.status === "waiting"; })[0];
    if (busy) return;
    if (!next) { progress(null); return; }
    next.status = "uploading";
    setStatus(next, "处理中");
    progress(0);
    downscale(next.file).then(function (blob) {
      if (photos.indexOf(next) < 0) return null;  // removed meanwhile
      next.el.style.backgroundImage = "url(" + URL.createObjectURL(blob) + ")";
      next.request = h5.upload(urls.mediaUrl, blob, function (f) {
        setStatus(next, "上传中 " + Math.round(f * 100) + "%");
        progress(f);
      });
      return next.request;
    }).then(function (media) {
      next.request = null;
      if (!media || photos.indexOf(next) < 0) return;
      next.status = "done";
      next.mediaId = media.id;
      batch.done += 1;
      setStatus(next, "");
      if (!photos.some(function (p) { return p.status !== "done"; })) h5.fieldOk("photos");
    }, function (err) {
      next.request = null;
      if (err.aborted || photos.indexOf(next) < 0) return;
      if (err.unreadable) { removePhoto(next); zh.flash(err.message, true); return; }
      next.status = "failed";
      batch.total = Math.max(0, batch.total - 1);
      setStatus(next, "失败，点此重试");
      zh.flash(err.message, true);
    }).then(pump);
  }

  function progress(fraction) {
    var box = $("upload-progress");
    if (fraction === null) {
      box.hidden = true;
      batch = {total: 0, done: 0};
      return;
    }
    var total = Math.max(batch.total, 1), overall = Math.min(1, (batch.done + fraction) / total);
    box.hidden = false;
    $("upload-bar").style.width = Math.round(overall * 100) + "%";
    $("upload-text").textContent = "正在上传第 " + Math.min(batch.done + 1, total) + "/" + total + " 张";
  }

  // ------------------------------------------------------------ location
  // The point (device, map or the bound shop's) is checked with GET /api/v1/geo/locate as it
  // moves (debounced): the district and street are shown under the map, a point outside the city
  // is refused here (submit disabled) as the server would refuse it, and an address naming
  // another district than the point's gets a warning (not a refusal).

  var LOCATE_DELAY = 300, WX_TIMEOUT = 8000;
  var locateBtn = $("locate-btn"), pickBtn = $("pick-btn"), mapEl = $("pick-map");
  var submitBtn = $("submit-btn");
  var loc = {};
  try { loc = JSON.parse($("report-location-config").textContent); } catch (ignored) { loc = {}; }
  var mapCfg = {};
  try { mapCfg = JSON.parse(mapEl.dataset.config || "{}"); } catch (ignored) { mapCfg = {}; }
  var pickMap = null, marker = null, here = null;
  var located = null;  // the locate answer for the current point (null: none yet, or unknown)
  var locateTimer = null, asking = 0, focusNext = false;

  function setPoint(lat, lng, system, text) {
    $("lat").value = lat.toFixed(6);
    $("lng").value = lng.toFixed(6);
    $("coord-sys").value = system;
    $("location-text").textContent = text;
    h5.fieldOk("location");
    located = null;
    clearTimeout(locateTimer);
    locateTimer = setTimeout(checkPoint, LOCATE_DELAY);
  }

  function checkPoint() {
    var lat = $("lat").value, lng = $("lng").value;
    if (!lat || !lng || !loc.locate) return;
    var mine = ++asking;
    zh.api("GET", loc.locate + zh.qs({lat: lat, lng: lng, coord: $("coord-sys").value || "gcj02"}))
      .then(function (answer) {
        if (mine === asking) showLocated(answer);  // an older answer arriving late is dropped
      }, function () {
        if (mine !== asking) return;
        showLocated(null);
        $("location-district").textContent = "暂时无法确认所属区域（网络不稳定），可继续填写";
        $("location-district").hidden = false;
      });
  }

  // Cases already open near the point (public, anonymised), so the citizen can follow one
  // ("我也遇到了") instead of filing the same problem again; only for points inside the city.
  function showNearbyCases(answer) {
    var box = $("nearby-cases");
    if (!box || !window.zhNearbyCases) return;
    if (!answer || !answer.inside) { box.hidden = true; return; }
    window.zhNearbyCases.show(box, $("lat").value, $("lng").value,
                              {coordSys: $("coord-sys").value || "gcj02"})
      .catch(function () { box.hidden = true; });  // a hint only: never in the way of reporting
  }

  function showLocated(answer) {
    located = answer;
    var outside = !!answer && answer.inside === false;
    var line = $("location-district");
    line.hidden = !(answer && answer.inside && answer.label);
    if (!line.hidden) line.textContent = "此位置属于 " + answer.label;
    showNearbyCases(answer);
    $("location-outside").hidden = !outside;
    submitBtn.disabled = outside;
    if (!outside) h5.fieldOk("location");
    checkAddress();
    if (answer && pickMap) {
      showMarker(answer);
      if (focusNext && answer.inside) window.zhGeo.focus(pickMap, answer, !!mapCfg.tileUrl);
      if (focusNext && outside) pickMap.setView(mapCfg.centre, 11);
    }
    if (pickMap) focusNext = false;
  }

  function showMarker(answer) {
    var at = [answer.point.lat, answer.point.lng];  // GCJ-02: where the map draws the point
    if (marker) marker.setLatLng(at);
    else marker = L.circleMarker(at, {radius: 9, color: "#fff", weight: 2, fillColor: "#fa5151", fillOpacity: 1}).addTo(pickMap);
  }

  // A typed address that names a district other than the point's: say so, do not block.
  function checkAddress() {
    var warn = $("address-mismatch");
    var named = window.zhGeo ? window.zhGeo.named($("address").value, loc.districtNames) : [];
    var district = located && located.inside && located.district ? located.district.name : "";
    var other = district && named.length && named.indexOf(district) < 0;
    warn.hidden = !other;
    if (other) {
      warn.textContent = "详细地址写的是" + named.join("、") + "，但所选位置属于" + district +
        "，请核对位置或地址（仍可提交）";
    }
  }

  function districtNamed() {  // the one district the typed address names, with its box
    var named = window.zhGeo ? window.zhGeo.named($("address").value, loc.districtNames) : [];
    var all = mapCfg.districts || [];
    for (var i = 0; named.length === 1 && i < all.length; i++) if (all[i].name === named[0]) return all[i];
    return null;
  }

  $("address").addEventListener("input", function () {
    if ($("address").value.trim()) h5.fieldOk("location");
    checkAddress();
  });

  // The device's position: in WeChat (JS-SDK configured) wx.getLocation in GCJ-02, else the
  // browser's (WGS-84). Resolves {lat, lng, system, accuracy}; rejects {code} as the browser does.
  function devicePosition() {
    function browser(resolve, reject) {
      if (!navigator.geolocation) { reject({code: 0}); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        var c = pos.coords;  // browsers report WGS-84
        resolve({lat: c.latitude, lng: c.longitude, system: "wgs84", accuracy: c.accuracy});
      }, reject, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    }
    return new Promise(function (resolve, reject) {
      if (!(window.wx && wx.getLocation)) { browser(resolve, reject); return; }
      var settled = false;
      function fallback() { if (!settled) { settled = true; browser(resolve, reject); } }
      setTimeout(fallback, WX_TIMEOUT);  // an unconfigured JS-SDK may never answer
      wx.getLocation({
        type: "gcj02",
        success: function (r) {
          if (settled) return;
          settled = true;
          resolve({lat: r.latitude, lng: r.longitude, system: "gcj02", accuracy: r.accuracy});
        },
        fail: fallback, cancel: fallback
      });
    });
  }

  var WHY = {1: "您未允许获取位置，请在设置中允许定位，或在地图上选点",
             3: "获取位置超时，请重试或在地图上选点"};

  locateBtn.addEventListener("click", function () {
    locateBtn.disabled = true;
    $("location-text").textContent = "正在获取您的位置……";
    devicePosition().then(function (p) {
      locateBtn.disabled = false;
      focusNext = true;
      setPoint(p.lat, p.lng, p.system,
               "已使用当前位置" + (p.accuracy ? "（精度约 " + Math.round(p.accuracy) + " 米）" : ""));
    }, function (err) {
      locateBtn.disabled = false;
      $("location-text").textContent = (err && WHY[err.code]) ||
        (navigator.geolocation ? "暂时无法获取您的位置，请在地图上选点或填写详细地址"
                               : "当前浏览器不支持定位，请在地图上选点或填写详细地址");
    });
  });

  // Where the picker opens: at the point already chosen (its street or district), else at the
  // district the typed address names, else where the citizen stands (a blue dot), else over the
  // city centre.
  function startView() {
    if ($("lat").value) {
      focusNext = true;
      if (located) showLocated(located); else checkPoint();
      return;
    }
    var named = districtNamed();
    if (named) { pickMap.fitBounds(window.zhGeo.bounds(named.bbox)); return; }
    devicePosition().then(function (p) {
      return zh.api("GET", loc.locate + zh.qs({lat: p.lat, lng: p.lng, coord: p.system}));
    }).then(function (answer) {
      if (!answer.inside || marker) return;  // outside the city: stay over the city
      here = L.circleMarker([answer.point.lat, answer.point.lng], {radius: 6, color: "#fff", weight: 2,
        fillColor: "#1677ff", fillOpacity: 1, interactive: false}).addTo(pickMap);
      window.zhGeo.focus(pickMap, answer, !!mapCfg.tileUrl);
    }).catch(function () { /* no position: the city centre it is */ });
  }

  pickBtn.addEventListener("click", function () {
    if (!window.L) { zh.flash("地图加载失败，请使用当前位置或填写详细地址", true); return; }
    mapEl.hidden = !mapEl.hidden;
    if ($("map-note")) $("map-note").hidden = mapEl.hidden;
    pickBtn.textContent = mapEl.hidden ? "在地图上选点" : "收起地图";
    if (mapEl.hidden) return;
    var first = !pickMap;
    if (first) {
      pickMap = h5.map(mapEl, null, {fit: false});
      pickMap.on("click", function (e) {
        if (here) { here.remove(); here = null; }
        showMarker({point: {lat: e.latlng.lat, lng: e.latlng.lng}});
        setPoint(e.latlng.lat, e.latlng.lng, "gcj02", "已在地图上选点，可再次点击地图调整");
      });
    }
    pickMap.invalidateSize();
    if (first) h5.geo().then(startView, startView);
    if (!$("lat").value) $("location-text").textContent = "请点击地图，标出问题所在位置";
  });

  if ($("lat").value) checkPoint();  // the bound shop's point: confirm it at once

  // ------------------------------------------------------------ description and category

  var description = $("description"), chips = $("category-chips");
  var suggestTimer = null, lastAsked = "", asked = 0;
  var initial = [];
  try { initial = JSON.parse(chips.dataset.initial || "[]"); } catch (ignored) { initial = []; }

  description.addEventListener("input", function () {
    var n = description.value.length;
    $("description-count").textContent = n;
    $("description-count").parentNode.classList.toggle("h5-counter_over", n > 500);
    if (description.value.trim().length >= 5) h5.fieldOk("description");
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, SUGGEST_DELAY);
  });

  function suggest() {
    var text = description.value.trim();
    if (text.length < 4 || text === lastAsked) return;
    lastAsked = text;
    var mine = ++asked;
    zh.api("POST", urls.classifyUrl, {description: text.slice(0, 500)}).then(function (found) {
      if (mine !== asked) return;  // an older answer arriving late
      renderChips(found);
      $("category-hint").textContent = found.length ? "为您推荐以下类别，可点选其一；不确定可不选" : "暂未识别出类别，可不选，由工作人员判断";
    }, function () { /* suggestions are optional: keep the current chips */ });
  }

  function renderChips(suggestions) {
    var chosen = $("category").value, seen = {};
    var selectedChip = chips.querySelector('.h5-chip_on[data-code]:not([data-code=""])');
    var items = suggestions.concat(initial);
    if (selectedChip) items.push({code: chosen, name: selectedChip.textContent});
    Array.prototype.slice.call(chips.querySelectorAll('[data-code]:not([data-code=""])')).forEach(function (c) { c.remove(); });
    items.forEach(function (s) {
      if (seen[s.code]) return;
      seen[s.code] = true;
      var b = document.createElement("button");
      b.type = "button"; b.className = "h5-chip"; b.dataset.code = s.code;
      b.setAttribute("role", "radio");
      b.textContent = s.name;
      if (s.full_name) b.title = s.full_name;
      chips.appendChild(b);
    });
    choose(chosen);
  }

  function choose(code) {
    $("category").value = code;
    Array.prototype.forEach.call(chips.querySelectorAll("[data-code]"), function (c) {
      var on = c.dataset.code === code;
      c.classList.toggle("h5-chip_on", on);
      c.setAttribute("aria-checked", on ? "true" : "false");
    });
    h5.fieldOk("category");
  }

  chips.addEventListener("click", function (e) {
    var chip = e.target.closest("[data-code]");
    if (chip) choose(chip.dataset.code);
  });
  if (initial.length) renderChips([]);

  // ------------------------------------------------------------ submit

  var ALIASES = {lat: "location", lng: "location", coord_sys: "location", address: "location"};

  function localErrors() {
    var errors = {}, text = description.value.trim();
    if (!photos.length) errors.photos = ["请至少上传1张现场照片"];
    else if (photos.some(function (p) { return p.status === "failed"; })) errors.photos = ["有照片上传失败，请点击照片重试或删除"];
    else if (photos.some(function (p) { return p.status !== "done"; })) errors.photos = ["照片正在上传，请稍候再提交"];
    if (!$("lat").value && !$("address").value.trim()) errors.location = ["请使用当前位置、在地图上选点，或填写详细地址"];
    else if (located && located.inside === false) errors.location = [loc.outside || "该位置不在本市范围内，请重新选择"];
    if (text.length < 5) errors.description = ["请用至少5个字描述问题"];
    else if (text.length > 500) errors.description = ["问题描述最多500字"];
    return errors;
  }

  function body() {
    var out = {description: description.value.trim(),
               photos: photos.map(function (p) { return p.mediaId; })};
    if ($("lat").value) {
      out.lat = parseFloat($("lat").value);
      out.lng = parseFloat($("lng").value);
      out.coord_sys = $("coord-sys").value;
    }
    var address = $("address").value.trim();
    if (address) out.address = address;
    if ($("category").value) out.category = $("category").value;
    if ($("shop-id")) out.shop_id = parseInt($("shop-id").value, 10);
    return out;
  }

  h5.submitReport(form, {button: submitBtn, label: "提交上报", url: urls.reportsUrl,
                          detailUrl: urls.detailUrl, key: idempotencyKey, body: body,
                          localErrors: localErrors, aliases: ALIASES});
})();
