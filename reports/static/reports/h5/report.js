/* 智慧城管 H5 "我要上报": photos (downscaled here, uploaded one by one with progress), location
 * (device or map), description with category suggestions, and an idempotent submit.
 *
 * The form is a list of parts (photos, location, description, category, the chosen category's
 * follow-up questions, shop). A part is {name, check(errors), fill(body), save(),
 * restore(value), reset()}, each optional:
 *   check(errors)   adds its local errors ({field: [messages]}) before sending
 *   fill(body)      puts its fields into the request body
 *   save()          what the draft keeps of it (plain JSON; undefined: nothing worth keeping)
 *   restore(value)  puts a kept value back; reset() returns it to how the page came
 * and calls changed() when the citizen changes it. Choosing a category fires "report:category"
 * on the form (detail {code, name}; code "" is 由工作人员判断) for the parts that depend on it.
 *
 * The draft: what is filled in is kept on the device (localStorage) as the citizen goes, put
 * back when the form opens again (with 已恢复上次未提交的内容 and 清空), dropped once the report is
 * filed and after DRAFT_DAYS. One draft per citizen (the key holds the form's data-draft-owner, a
 * digest of the signed-in citizen: another citizen on the same phone never sees it) and per shop
 * for the form opened from a shop's plate. Photos are kept as the ids the media API gave them
 * with a small thumbnail; the server is asked whether they are still there when the draft comes
 * back.
 * Needs zh.js, h5.js and (for the map) Leaflet; element ids are those of h5/report.html. */
(function () {
  "use strict";
  var MAX_PHOTOS = 9, MAX_SIDE = 1600, QUALITY = 0.8, SUGGEST_DELAY = 400, THUMB_SIDE = 160;
  var form = document.getElementById("report-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var urls = form.dataset;
  var idempotencyKey = newKey();  // one per form: a retry after a network error reuses it
  var parts = [];
  var changed = function () {};  // the draft's, once it is set up (below)

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // ------------------------------------------------------------ photos

  var photos = [];  // {file, status: waiting|uploading|done|failed, mediaId, thumb, el, request}
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

  function photoItem(item, statusText) {
    var el = document.createElement("li");
    el.className = "weui-uploader__file" + (statusText ? " weui-uploader__file_status" : "");
    el.innerHTML = '<div class="weui-uploader__file-content"></div>' +
      '<button type="button" class="h5-photo-remove" aria-label="删除这张照片">×</button>';
    el.firstChild.textContent = statusText;
    item.el = el;
    el.querySelector(".h5-photo-remove").addEventListener("click", function (e) {
      e.stopPropagation();
      removePhoto(item);
    });
    el.addEventListener("click", function () {
      if (item.status === "failed") { item.status = "waiting"; batch.total += 1; setStatus(item, "等待上传"); pump(); }
    });
    photos.push(item);
    list.appendChild(el);
    countPhotos();
    return item;
  }

  function addPhoto(file) {
    photoItem({file: file, status: "waiting", mediaId: null, thumb: "", request: null}, "等待上传");
    batch.total += 1;
  }

  /* A photo uploaded before the page was left, from the draft: {id, thumb}. */
  function addKept(kept) {
    var item = photoItem({file: null, status: "done", mediaId: kept.id, thumb: kept.thumb || "", request: null}, "");
    if (item.thumb) item.el.style.backgroundImage = 'url("' + item.thumb + '")';
    return item;
  }

  function removePhoto(item) {
    if (photos.indexOf(item) < 0) return;  // already gone
    if (item.request) item.request.abort();
    if (item.status !== "done" && item.status !== "failed") batch.total = Math.max(0, batch.total - 1);
    photos.splice(photos.indexOf(item), 1);
    item.el.remove();
    countPhotos();
    changed();
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
        var thumb = thumbnail(canvas);
        canvas.toBlob(function (blob) {
          if (blob) resolve({blob: blob, thumb: thumb}); else reject(new Error("照片处理失败，请换一张照片"));
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

  /* A small JPEG data URL of the photo, kept with the draft ("" if the browser cannot). */
  function thumbnail(canvas) {
    var scale = Math.min(1, THUMB_SIDE / Math.max(canvas.width, canvas.height));
    var small = document.createElement("canvas");
    small.width = Math.max(1, Math.round(canvas.width * scale));
    small.height = Math.max(1, Math.round(canvas.height * scale));
    small.getContext("2d").drawImage(canvas, 0, 0, small.width, small.height);
    try { return small.toDataURL("image/jpeg", 0.6); } catch (ignored) { return ""; }
  }

  function pump() {
    var busy = photos.some(function (p) { return p.status === "uploading"; });
    var next = photos.filter(function (p) { return p.status === "waiting"; })[0];
    if (busy) return;
    if (!next) { progress(null); return; }
    next.status = "uploading";
    setStatus(next, "处理中");
    progress(0);
    downscale(next.file).then(function (made) {
      if (photos.indexOf(next) < 0) return null;  // removed meanwhile
      next.thumb = made.thumb;
      next.el.style.backgroundImage = "url(" + URL.createObjectURL(made.blob) + ")";
      next.request = h5.upload(urls.mediaUrl, made.blob, function (f) {
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
      changed();
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

  parts.push({
    name: "photos",
    check: function (errors) {
      if (!photos.length) errors.photos = ["请至少上传1张现场照片"];
      else if (photos.some(function (p) { return p.status === "failed"; })) errors.photos = ["有照片上传失败，请点击照片重试或删除"];
      else if (photos.some(function (p) { return p.status !== "done"; })) errors.photos = ["照片正在上传，请稍候再提交"];
    },
    fill: function (body) { body.photos = photos.map(function (p) { return p.mediaId; }); },
    save: function () {
      var done = photos.filter(function (p) { return p.status === "done"; });
      return done.length ? done.map(function (p) { return {id: p.mediaId, thumb: p.thumb}; }) : undefined;
    },
    restore: function (kept) {
      var items = (Array.isArray(kept) ? kept : []).filter(function (k) { return k && k.id; })
        .slice(0, MAX_PHOTOS).map(addKept);
      return checkKept(items);
    },
    reset: function () { photos.slice().forEach(removePhoto); }
  });

  /* Kept photos the server no longer has (or that are another citizen's) are dropped; a photo
   * kept without a thumbnail shows the stored one. Promise of the number dropped. */
  function checkKept(items) {
    return Promise.all(items.map(function (item) {
      return zh.api("GET", urls.mediaUrl + "/" + encodeURIComponent(item.mediaId)).then(function (media) {
        if (!item.thumb && media.url) item.el.style.backgroundImage = 'url("' + media.url + '")';
        return 0;
      }, function (err) {
        if (err.status !== 404) return 0;  // offline, say: the submission will tell
        removePhoto(item);
        return 1;
      });
    })).then(function (gone) { return gone.reduce(function (a, b) { return a + b; }, 0); });
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
  var served = {lat: $("lat").value, lng: $("lng").value, system: $("coord-sys").value,
               text: $("location-text").textContent, address: $("address").value};  // as the page came

  function setPoint(lat, lng, system, text) {
    $("lat").value = lat.toFixed(6);
    $("lng").value = lng.toFixed(6);
    $("coord-sys").value = system;
    $("location-text").textContent = text;
    h5.fieldOk("location");
    located = null;
    clearTimeout(locateTimer);
    locateTimer = setTimeout(checkPoint, LOCATE_DELAY);
    changed();
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
      pickMap = h5.map(mapEl, null, {fit: false, locate: function () { locateBtn.click(); }});
      pickMap.on("click", function (e) { pickAt(e.latlng, "已在地图上选点，可再次点击地图调整"); });
      // Without a pointer: arrow keys move the map (Leaflet), Enter or Space takes its centre
      // (marked by a ring while the map has the focus).
      mapEl.addEventListener("keydown", function (e) {
        if (e.target !== mapEl || (e.key !== "Enter" && e.key !== " ")) return;
        e.preventDefault();
        pickAt(pickMap.getCenter(), "已将地图中心选为问题位置，可移动地图后再按回车键调整");
      });
    }
    pickMap.invalidateSize();
    if (first) h5.geo().then(startView, startView);
    if (!$("lat").value) $("location-text").textContent = "请点击地图，标出问题所在位置";
  });

  function pickAt(latlng, text) {
    if (here) { here.remove(); here = null; }
    showMarker({point: {lat: latlng.lat, lng: latlng.lng}});
    setPoint(latlng.lat, latlng.lng, "gcj02", text);
  }

  if ($("lat").value) checkPoint();  // the bound shop's point: confirm it at once

  parts.push({
    name: "location",
    check: function (errors) {
      if (!$("lat").value && !$("address").value.trim()) errors.location = ["请使用当前位置、在地图上选点，或填写详细地址"];
      else if (located && located.inside === false) errors.location = [loc.outside || "该位置不在本市范围内，请重新选择"];
    },
    fill: function (body) {
      if ($("lat").value) {
        body.lat = parseFloat($("lat").value);
        body.lng = parseFloat($("lng").value);
        body.coord_sys = $("coord-sys").value;
      }
      var address = $("address").value.trim();
      if (address) body.address = address;
    },
    save: function () {  // only what the citizen chose: a shop's own point and address come anyway
      var kept = {}, any = false;
      if ($("lat").value && ($("lat").value !== served.lat || $("lng").value !== served.lng)) {
        kept.point = {lat: $("lat").value, lng: $("lng").value, coord_sys: $("coord-sys").value};
        any = true;
      }
      if ($("address").value !== served.address) { kept.address = $("address").value; any = true; }
      return any ? kept : undefined;
    },
    restore: function (kept) {
      if (typeof kept.address === "string") $("address").value = kept.address.slice(0, 200);
      var p = kept.point, lat = p && parseFloat(p.lat), lng = p && parseFloat(p.lng);
      if (p && isFinite(lat) && isFinite(lng)) {
        setPoint(lat, lng, p.coord_sys === "wgs84" ? "wgs84" : "gcj02", "已恢复上次选择的位置，可重新定位或在地图上调整");
      } else {
        checkAddress();
      }
    },
    reset: function () {
      clearTimeout(locateTimer);
      asking += 1;  // an answer on its way is for the point being dropped
      $("lat").value = served.lat;
      $("lng").value = served.lng;
      $("coord-sys").value = served.system;
      $("location-text").textContent = served.text;
      $("address").value = served.address;
      if (marker) { marker.remove(); marker = null; }
      showLocated(null);
      if (served.lat) checkPoint();
    }
  });

  // ------------------------------------------------------------ description and category

  var description = $("description"), chips = $("category-chips");
  var suggestTimer = null, lastAsked = "", asked = 0;
  var initial = [];
  try { initial = JSON.parse(chips.dataset.initial || "[]"); } catch (ignored) { initial = []; }

  var hint = $("category-hint").textContent;

  function described() {
    var n = description.value.length;
    $("description-count").textContent = n;
    $("description-count").parentNode.classList.toggle("h5-counter_over", n > 500);
    if (description.value.trim().length >= 5) h5.fieldOk("description");
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, SUGGEST_DELAY);
  }
  description.addEventListener("input", described);

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

  var chosenCode = "";

  function choose(code) {
    var name = "";
    $("category").value = code;
    Array.prototype.forEach.call(chips.querySelectorAll("[data-code]"), function (c) {
      var on = c.dataset.code === code;
      c.classList.toggle("h5-chip_on", on);
      c.setAttribute("aria-checked", on ? "true" : "false");
      if (on && code) name = c.textContent;
    });
    h5.fieldOk("category");
    if (code === chosenCode) return;
    chosenCode = code;
    form.dispatchEvent(new CustomEvent("report:category", {detail: {code: code, name: name}}));
    changed();
  }

  chips.addEventListener("click", function (e) {
    var chip = e.target.closest("[data-code]");
    if (chip) choose(chip.dataset.code);
  });
  if (initial.length) renderChips([]);

  parts.push({
    name: "description",
    check: function (errors) {
      var text = description.value.trim();
      if (text.length < 5) errors.description = ["请用至少5个字描述问题"];
      else if (text.length > 500) errors.description = ["问题描述最多500字"];
    },
    fill: function (body) { body.description = description.value.trim(); },
    save: function () { return description.value.trim() ? description.value : undefined; },
    restore: function (text) {
      if (typeof text !== "string") return;
      description.value = text.slice(0, 500);
      described();
    },
    reset: function () {
      description.value = "";
      lastAsked = "";
      described();
    }
  });

  parts.push({
    name: "category",
    fill: function (body) { if ($("category").value) body.category = $("category").value; },
    save: function () {
      var chip = chips.querySelector('.h5-chip_on[data-code]:not([data-code=""])');
      return chip ? {code: chip.dataset.code, name: chip.textContent} : undefined;
    },
    restore: function (kept) {
      if (!kept || !kept.code || !kept.name) return;
      renderChips([{code: String(kept.code), name: String(kept.name)}]);
      choose(String(kept.code));
    },
    reset: function () {
      choose("");
      renderChips([]);
      $("category-hint").textContent = hint;
    }
  });

  // ------------------------------------------------------------ follow-up questions
  // The chosen category's questions (reports/questions.py; #report-questions holds them by
  // category code, as GET /api/v1/categories lists them): yes_no (是 / 否), choice (one of its
  // options) or text (at most TEXT_MAX characters), some required (必答). They follow the
  // category: another choice clears the answers. The answers go as `answers` {key: answer} (the
  // unanswered left out); the server's errors `answers.<key>` show at their question.

  var TEXT_MAX = 100, YES_NO = ["是", "否"];
  var asks = {};
  try { asks = JSON.parse($("report-questions").textContent) || {}; } catch (ignored) { asks = {}; }
  var questionBox = $("questions"), questionList = $("question-list");
  var shown = {code: "", questions: []};  // the questions on the form now, and their category

  function questionEl(q) {
    var id = "q-" + q.key, text = q.kind === "text";
    var cell = document.createElement("div");
    cell.className = "weui-cell h5-question";
    cell.dataset.key = q.key;
    var bd = document.createElement("div");
    bd.className = "weui-cell__bd";
    var label = document.createElement(text ? "label" : "p");
    label.className = "h5-question__label";
    label.id = id + "-label";
    label.textContent = q.label;
    if (text) label.htmlFor = id;
    if (q.required) {
      var tag = document.createElement("span");
      tag.className = "h5-tag warn h5-question__required";
      tag.textContent = "必答";
      label.appendChild(tag);
    }
    bd.appendChild(label);
    var control;
    if (text) {
      control = document.createElement("input");
      control.className = "weui-input h5-question__input";
      control.name = "answer-" + q.key;
      control.maxLength = TEXT_MAX;
      control.autocomplete = "off";
      control.placeholder = (q.required ? "请填写" : "选填") + "，最多" + TEXT_MAX + "字";
    } else {
      control = document.createElement("div");
      control.className = q.kind === "yes_no" ? "h5-answer-buttons" : "h5-answer-choices";
      control.setAttribute("role", "radiogroup");
      control.setAttribute("aria-labelledby", label.id);
      (q.kind === "yes_no" ? YES_NO : q.options || []).forEach(function (option, i) {
        var opt = document.createElement("label");
        opt.className = "h5-answer";
        var radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "answer-" + q.key;
        radio.id = id + "-" + i;
        radio.value = option;
        var word = document.createElement("span");
        word.textContent = option;
        opt.appendChild(radio);
        opt.appendChild(word);
        control.appendChild(opt);
      });
    }
    control.id = id;
    if (q.required) control.setAttribute("aria-required", "true");
    bd.appendChild(control);
    var error = document.createElement("p");
    error.className = "h5-field-error";
    error.id = "error-answers." + q.key;
    error.setAttribute("data-for", id);
    error.hidden = true;
    bd.appendChild(error);
    cell.appendChild(bd);
    return cell;
  }

  function answerOf(q) {
    if (q.kind === "text") return $("q-" + q.key).value.trim();
    var picked = questionList.querySelector('input[name="answer-' + q.key + '"]:checked');
    return picked ? picked.value : "";
  }

  function answers() {
    var out = {}, any = false;
    shown.questions.forEach(function (q) {
      var value = answerOf(q);
      if (value) { out[q.key] = value; any = true; }
    });
    return any ? out : null;
  }

  function showQuestions(code, name) {
    var questions = (code && Array.isArray(asks[code])) ? asks[code] : [];
    questionList.textContent = "";  // the answers (and errors) of another category go with it
    questions.forEach(function (q) { questionList.appendChild(questionEl(q)); });
    shown = {code: code, questions: questions};
    $("questions-title").textContent = "补充问题" + (name ? "（" + name + "）" : "");
    questionBox.hidden = !questions.length;
    h5.fieldOk("answers");  // the banner goes too when no error is left on the form
  }

  form.addEventListener("report:category", function (e) { showQuestions(e.detail.code, e.detail.name); });

  function answered(e) {
    var cell = e.target.closest && e.target.closest(".h5-question");
    var q = cell && shown.questions.filter(function (x) { return x.key === cell.dataset.key; })[0];
    if (q && answerOf(q)) h5.fieldOk("answers." + q.key);
  }
  questionList.addEventListener("input", answered);
  questionList.addEventListener("change", answered);

  parts.push({
    name: "answers",
    check: function (errors) {
      shown.questions.forEach(function (q) {
        if (q.required && !answerOf(q)) errors["answers." + q.key] = ["请回答：" + q.label];
      });
    },
    fill: function (body) {
      var given = answers();
      if (given) body.answers = given;
    },
    save: function () {
      var given = answers();
      return given ? {code: shown.code, answers: given} : undefined;
    },
    restore: function (kept) {  // after the category's: its questions are on the form by now
      if (!kept || kept.code !== shown.code || !kept.answers || typeof kept.answers !== "object") return;
      shown.questions.forEach(function (q) {
        var value = kept.answers[q.key];
        if (typeof value !== "string" || !value) return;
        if (q.kind === "text") { $("q-" + q.key).value = value.slice(0, TEXT_MAX); return; }
        Array.prototype.forEach.call(questionList.querySelectorAll('input[name="answer-' + q.key + '"]'), function (r) {
          r.checked = r.value === value;
        });
      });
    },
    reset: function () { showQuestions("", ""); }
  });

  parts.push({
    name: "shop",
    fill: function (body) { if ($("shop-id")) body.shop_id = parseInt($("shop-id").value, 10); }
  });

  // ------------------------------------------------------------ the draft on the device

  var DRAFT_DAYS = 7, DRAFT_DELAY = 400, DRAFT_VERSION = 1, DAY_MS = 24 * 3600 * 1000;
  var DRAFT_PREFIX = "zhcg.report-draft";
  var shopCode = (new URLSearchParams(location.search).get("shop") || "").trim();
  var owner = (urls.draftOwner || "").trim();  // whose drafts: none kept without one
  var OWNED = DRAFT_PREFIX + ".u.";
  var draftKey = OWNED + owner + (shopCode ? ".shop." + shopCode : "");
  var drafting = false, draftTimer = null;  // off while a draft is put back and once filed

  function store() {
    if (!owner) return null;
    try { return window.localStorage || null; } catch (ignored) { return null; }  // may be refused
  }

  function forget(key) {
    var s = store();
    try { if (s) s.removeItem(key); } catch (ignored) { /* nothing kept, nothing to drop */ }
  }

  function read(key) {
    var s = store(), draft = null;
    try { draft = JSON.parse((s && s.getItem(key)) || "null"); } catch (ignored) { draft = null; }
    return draft;
  }

  function fresh(draft) {
    return !!draft && draft.v === DRAFT_VERSION && draft.parts && typeof draft.parts === "object" &&
      Date.now() - draft.savedAt < DRAFT_DAYS * DAY_MS;
  }

  function saveDraft() {
    var s = store();
    if (!s || !drafting) return;
    var kept = {}, any = false;
    parts.forEach(function (part) {
      var value = part.save ? part.save() : undefined;
      if (value !== undefined) { kept[part.name] = value; any = true; }
    });
    if (!any) { forget(draftKey); return; }
    var draft = {v: DRAFT_VERSION, savedAt: Date.now(), parts: kept};
    try {
      s.setItem(draftKey, JSON.stringify(draft));
    } catch (full) {  // the device's storage is full: keep the photos without their thumbnails
      if (!kept.photos) return;
      kept.photos = kept.photos.map(function (p) { return {id: p.id}; });
      try { s.setItem(draftKey, JSON.stringify(draft)); } catch (ignored) { /* not kept */ }
    }
  }

  changed = function () {
    if (!drafting) return;
    clearTimeout(draftTimer);
    draftTimer = setTimeout(function () { draftTimer = null; saveDraft(); }, DRAFT_DELAY);
  };

  function stopDrafting() {
    drafting = false;
    clearTimeout(draftTimer);
    draftTimer = null;
    forget(draftKey);
  }

  // Drafts (any citizen's, any shop's) left for longer than DRAFT_DAYS go too, and those kept
  // before drafts had an owner: whose they are is not known.
  (function sweep() {
    var s = store(), stale = [];
    for (var i = 0; s && i < s.length; i++) {
      var key = s.key(i);
      if (!key || key.indexOf(DRAFT_PREFIX) !== 0) continue;
      if (key.indexOf(OWNED) !== 0 || !fresh(read(key))) stale.push(key);
    }
    stale.forEach(forget);
  })();

  var notice = $("draft-notice");
  var draft = read(draftKey);
  if (fresh(draft)) {
    parts.forEach(function (part) {
      if (!part.restore || draft.parts[part.name] === undefined) return;
      var done = part.restore(draft.parts[part.name]);
      if (done && done.then && part.name === "photos") {
        done.then(function (gone) {
          if (gone) $("draft-text").textContent = "已恢复上次未提交的内容，其中" + gone + "张照片已失效，请重新添加";
        });
      }
    });
    notice.hidden = false;
  }
  drafting = true;  // kept photos the server no longer has leave the draft as they are found
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  function saveNow() {  // the page is left or hidden (WeChat in the background): no keystroke lost
    if (draftTimer === null) return;
    clearTimeout(draftTimer);
    draftTimer = null;
    saveDraft();
  }
  window.addEventListener("pagehide", saveNow);
  document.addEventListener("visibilitychange", function () { if (document.hidden) saveNow(); });

  $("draft-clear").addEventListener("click", function () {
    stopDrafting();
    parts.forEach(function (part) { if (part.reset) part.reset(); });
    h5.clearErrors();
    notice.hidden = true;
    drafting = true;
    h5.toast("已清空");
    input.focus();  // the button is gone: the form's first field
  });

  // ------------------------------------------------------------ submit

  var ALIASES = {lat: "location", lng: "location", coord_sys: "location", address: "location"};

  function localErrors() {
    var errors = {};
    parts.forEach(function (part) { if (part.check) part.check(errors); });
    return errors;
  }

  function body() {
    var out = {};
    parts.forEach(function (part) { if (part.fill) part.fill(out); });
    return out;
  }

  h5.submitReport(form, {button: submitBtn, label: "提交上报", url: urls.reportsUrl,
                          detailUrl: urls.detailUrl, key: idempotencyKey, body: body,
                          localErrors: localErrors, aliases: ALIASES, done: stopDrafting});
})();
