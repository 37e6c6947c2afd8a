/* 车窗抛物举报 (H5): 2-9 photos (downscaled here) or one short video, each uploaded to
 * /api/v1/media with progress; plate suggestions read from the uploaded photos (chips that fill
 * the plate); the device's location or an address; an idempotent JSON submit whose 422 field
 * errors appear next to their fields. Needs zh.js and h5.js; ids are those of h5_new.html. */
(function () {
  "use strict";
  var MAX_PHOTOS = 9, MIN_PHOTOS = 2, MAX_SIDE = 1600, QUALITY = 0.8;
  var form = document.getElementById("littering-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var urls = form.dataset, maxSeconds = parseFloat(urls.maxSeconds) || 10;
  var idempotencyKey = newKey();  // one per form: a retry after a network error reuses it

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // ------------------------------------------------------------ evidence

  var items = [];  // {file, video, status: waiting|uploading|done|failed, mediaId, el, request}
  var input = $("evidence-input"), list = $("evidence-list");

  function isVideo(file) { return /^video\//.test(file.type) || /\.(mp4|mov)$/i.test(file.name || ""); }
  function hasVideo() { return items.some(function (i) { return i.video; }); }

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";
    var videos = files.filter(isVideo), photos = files.filter(function (f) { return !isVideo(f); });
    if (videos.length && (videos.length > 1 || photos.length || items.length)) {
      zh.flash("视频证据只能上传1段，且不能与照片混合", true);
      return;
    }
    if (photos.length && hasVideo()) { zh.flash("已上传视频，不能再添加照片", true); return; }
    if (videos.length) { checkVideo(videos[0]).then(function () { add(videos[0], true); pump(); }, function (e) { zh.flash(e.message, true); }); return; }
    var room = MAX_PHOTOS - items.length;
    if (photos.length > room) zh.flash("最多上传" + MAX_PHOTOS + "张照片，已为您保留前" + Math.max(room, 0) + "张", true);
    photos.slice(0, Math.max(room, 0)).forEach(function (f) { add(f, false); });
    pump();
  });

  /* Refuse a video longer than the limit before uploading it (the server checks again). */
  function checkVideo(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), v = document.createElement("video");
      var settle = function (fn, arg) { URL.revokeObjectURL(url); fn(arg); };
      v.preload = "metadata";
      v.onloadedmetadata = function () {
        if (isFinite(v.duration) && v.duration > maxSeconds + 0.5) {
          settle(reject, new Error("视频时长不能超过" + maxSeconds + "秒，请剪辑后再上传"));
        } else settle(resolve);
      };
      v.onerror = function () { settle(resolve); };  // unknown to this browser: the server decides
      v.src = url;
    });
  }

  function add(file, video) {
    var el = document.createElement("li");
    el.className = "weui-uploader__file weui-uploader__file_status" + (video ? " lt-video" : "");
    el.innerHTML = '<div class="weui-uploader__file-content">等待上传</div>' +
      '<button type="button" class="h5-photo-remove" aria-label="删除">×</button>';
    var item = {file: file, video: video, status: "waiting", mediaId: null, el: el, request: null};
    el.querySelector(".h5-photo-remove").addEventListener("click", function (e) { e.stopPropagation(); remove(item); });
    el.addEventListener("click", function () {
      if (item.status === "failed") { item.status = "waiting"; setStatus(item, "等待上传"); pump(); }
    });
    items.push(item);
    list.appendChild(el);
    count();
  }

  function remove(item) {
    if (item.request) item.request.abort();
    items.splice(items.indexOf(item), 1);
    item.el.remove();
    count();
    pump();
  }

  function count() {
    $("evidence-count").textContent = items.length;
    $("evidence-add").hidden = items.length >= MAX_PHOTOS || hasVideo();
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
        ctx.fillStyle = "#fff";
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
        e.unreadable = true;
        reject(e);
      };
      img.src = url;
    });
  }

  function pump() {
    if (items.some(function (i) { return i.status === "uploading"; })) return;
    var next = items.filter(function (i) { return i.status === "waiting"; })[0];
    if (!next) { progress(null); suggest(); return; }
    next.status = "uploading";
    setStatus(next, next.video ? "准备上传" : "处理中");
    progress(0);
    var prepared = next.video ? Promise.resolve(next.file) : downscale(next.file);
    prepared.then(function (blob) {
      if (items.indexOf(next) < 0) return null;
      if (!next.video) next.el.style.backgroundImage = "url(" + URL.createObjectURL(blob) + ")";
      next.request = h5.upload(urls.mediaUrl, blob, function (f) {
        setStatus(next, "上传中 " + Math.round(f * 100) + "%");
        progress(f);
      });
      return next.request;
    }).then(function (media) {
      next.request = null;
      if (!media || items.indexOf(next) < 0) return;
      next.status = "done";
      next.mediaId = media.id;
      next.kind = media.kind;
      if (media.poster_url) next.el.style.backgroundImage = "url(" + media.poster_url + ")";
      setStatus(next, next.video ? "视频" : "");
      if (!items.some(function (i) { return i.status !== "done"; })) h5.fieldOk("media");
    }, function (err) {
      next.request = null;
      if (err.aborted || items.indexOf(next) < 0) return;
      if (err.unreadable) { remove(next); zh.flash(err.message, true); return; }
      next.status = "failed";
      setStatus(next, "失败，点此重试");
      zh.flash(err.message, true);
    }).then(pump);
  }

  function progress(fraction) {
    var box = $("upload-progress");
    if (fraction === null) { box.hidden = true; return; }
    var total = items.length || 1;
    var done = items.filter(function (i) { return i.status === "done"; }).length;
    box.hidden = false;
    $("upload-bar").style.width = Math.round(Math.min(1, (done + fraction) / total) * 100) + "%";
    $("upload-text").textContent = "正在上传第 " + Math.min(done + 1, total) + "/" + total + " 个文件";
  }

  // ------------------------------------------------------------ plate suggestions

  var asked = "", plate = $("plate");

  function suggest() {
    var ids = items.filter(function (i) { return i.status === "done"; }).map(function (i) { return i.mediaId; });
    if (!ids.length || ids.join(",") === asked) return;
    asked = ids.join(",");
    var mine = asked;
    zh.api("POST", urls.suggestUrl, {media: ids}).then(function (data) {
      if (mine !== asked) return;  // an older answer arriving late
      var chips = $("plate-chips");
      chips.innerHTML = "";
      (data.suggestions || []).forEach(function (s) {
        var b = document.createElement("button");
        b.type = "button"; b.className = "h5-chip"; b.dataset.plate = s.plate;
        b.textContent = s.plate;
        chips.appendChild(b);
      });
      $("plate-suggestions").hidden = !chips.children.length;
    }, function () { /* suggestions are optional */ });
  }

  $("plate-chips").addEventListener("click", function (e) {
    var chip = e.target.closest("[data-plate]");
    if (!chip) return;
    plate.value = chip.dataset.plate;
    Array.prototype.forEach.call($("plate-chips").children, function (c) { c.classList.toggle("h5-chip_on", c === chip); });
    h5.fieldOk("plate");
  });
  plate.addEventListener("input", function () {
    plate.value = plate.value.toUpperCase();
    if (plate.value.trim().length >= 7) h5.fieldOk("plate");
  });

  // ------------------------------------------------------------ location

  var locateBtn = $("locate-btn");
  locateBtn.addEventListener("click", function () {
    if (!navigator.geolocation) { $("location-text").textContent = "当前浏览器不支持定位，请填写详细地址"; return; }
    locateBtn.disabled = true;
    $("location-text").textContent = "正在获取您的位置……";
    navigator.geolocation.getCurrentPosition(function (pos) {
      locateBtn.disabled = false;
      var c = pos.coords;  // browsers report WGS-84
      $("lat").value = c.latitude.toFixed(6);
      $("lng").value = c.longitude.toFixed(6);
      $("coord-sys").value = "wgs84";
      $("location-text").textContent = "已使用当前位置（精度约 " + Math.round(c.accuracy) + " 米）";
      h5.fieldOk("location");
    }, function (err) {
      locateBtn.disabled = false;
      var why = {1: "您未允许获取位置，请在设置中允许定位，或填写详细地址", 3: "获取位置超时，请重试或填写详细地址"};
      $("location-text").textContent = why[err.code] || "暂时无法获取您的位置，请填写详细地址";
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  });
  $("address").addEventListener("input", function () { if ($("address").value.trim()) h5.fieldOk("location"); });

  // ------------------------------------------------------------ submit

  var submitBtn = $("submit-btn");
  var ALIASES = {lat: "location", lng: "location", coord_sys: "location", address: "location",
                 vehicle_type: "vehicle", vehicle_colour: "vehicle"};

  function localErrors() {
    var errors = {}, photos = items.filter(function (i) { return !i.video; }).length;
    if (!items.length) errors.media = ["请上传2-9张照片，或1段" + maxSeconds + "秒以内的视频"];
    else if (items.some(function (i) { return i.status === "failed"; })) errors.media = ["有文件上传失败，请点击重试或删除"];
    else if (items.some(function (i) { return i.status !== "done"; })) errors.media = ["文件正在上传，请稍候再提交"];
    else if (!hasVideo() && photos < MIN_PHOTOS) errors.media = ["请至少上传" + MIN_PHOTOS + "张照片（抛物瞬间和车牌）"];
    var p = plate.value.trim();
    if (!p) errors.plate = ["请填写车牌号"];
    else if (p.length < 7) errors.plate = ["车牌号格式不正确：省份简称+字母+5位，新能源6位"];
    if (!$("occurred-at").value) errors.occurred_at = ["请选择发生时间"];
    if (!$("lat").value && !$("address").value.trim()) errors.location = ["请使用当前位置，或填写详细地址"];
    return errors;
  }

  function body() {
    var out = {plate: plate.value.trim(), plate_colour: $("plate-colour").value,
               occurred_at: $("occurred-at").value.length === 16 ? $("occurred-at").value + ":00" : $("occurred-at").value,
               media: items.map(function (i) { return i.mediaId; })};
    if ($("lat").value) {
      out.lat = parseFloat($("lat").value);
      out.lng = parseFloat($("lng").value);
      out.coord_sys = $("coord-sys").value;
    }
    ["address", "description", "vehicle-colour", "vehicle-type"].forEach(function (id) {
      var v = $(id).value.trim();
      if (v) out[id.replace("-", "_")] = v;
    });
    return out;
  }

  h5.submitReport(form, {button: submitBtn, label: "提交举报", url: urls.reportsUrl,
                          detailUrl: urls.detailUrl, key: idempotencyKey, body: body,
                          localErrors: localErrors, aliases: ALIASES});
})();
