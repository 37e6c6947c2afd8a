/* 发布文明行为 (H5): one or two photos (downscaled here, uploaded to /api/v1/media with
 * progress), a few words and the district; an idempotent JSON post whose 422 field errors
 * appear next to their fields; then to 我的发布. Needs zh.js and h5.js; ids of new.html. */
(function () {
  "use strict";
  var MAX_SIDE = 1600, QUALITY = 0.8;
  var form = document.getElementById("showcase-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var urls = form.dataset, maxPhotos = parseInt(urls.maxPhotos, 10) || 2;
  var key = newKey();  // one per form: a retry after a network error makes no second post
  var items = [];  // {el, status: uploading|done|failed, mediaId}

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function count() {
    $("photo-count").textContent = items.length;
    $("photo-add").hidden = items.length >= maxPhotos;
  }

  function downscale(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () {
        var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
        canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
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
        reject(new Error("无法读取这张图片，请选择 JPG 或 PNG 格式的照片"));
      };
      img.src = url;
    });
  }

  function add(file) {
    var el = document.createElement("li");
    el.className = "weui-uploader__file weui-uploader__file_status";
    el.innerHTML = '<div class="weui-uploader__file-content">处理中</div>' +
      '<button type="button" class="h5-photo-remove" aria-label="删除">×</button>';
    var item = {el: el, status: "uploading", mediaId: null};
    el.querySelector(".h5-photo-remove").addEventListener("click", function () {
      items.splice(items.indexOf(item), 1);
      el.remove();
      count();
    });
    items.push(item);
    $("photo-list").appendChild(el);
    count();
    var text = el.querySelector(".weui-uploader__file-content");
    downscale(file).then(function (blob) {
      el.style.backgroundImage = "url(" + URL.createObjectURL(blob) + ")";
      return h5.upload(urls.mediaUrl, blob, function (f) { text.textContent = Math.round(f * 100) + "%"; });
    }).then(function (media) {
      item.status = "done";
      item.mediaId = media.id;
      el.classList.remove("weui-uploader__file_status");
      text.textContent = "";
      h5.fieldOk("photos");
    }, function (err) {
      item.status = "failed";
      text.textContent = "上传失败";
      zh.flash(err.message, true);
    });
  }

  $("photo-input").addEventListener("change", function (ev) {
    var files = Array.prototype.slice.call(ev.target.files || []);
    ev.target.value = "";
    var room = maxPhotos - items.length;
    if (files.length > room) zh.flash("最多上传" + maxPhotos + "张照片", true);
    files.slice(0, Math.max(room, 0)).forEach(add);
  });

  $("text").addEventListener("input", function () {
    $("text-count").textContent = $("text").value.length;
    h5.fieldOk("text");
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    h5.clearErrors();
    var text = $("text").value.trim(), errors = {};
    if (!items.length) errors.photos = ["请至少上传1张照片"];
    else if (items.some(function (i) { return i.status !== "done"; })) errors.photos = ["请等待照片上传完成，或删除上传失败的照片"];
    if (text.length < 2) errors.text = ["请用几句话描述您看到的文明行为"];
    if (Object.keys(errors).length) { h5.showErrors(errors); return; }
    var body = {text: text, photos: items.map(function (i) { return i.mediaId; })};
    if ($("district").value) body.district = $("district").value;
    var button = $("submit-btn");
    button.disabled = true;
    zh.api("POST", urls.postsUrl, body, {"Idempotency-Key": key}).then(function () {
      h5.toast("已提交，审核通过后展示");
      setTimeout(function () { window.location = urls.mineUrl; }, 800);
    }, function (err) {
      button.disabled = false;
      var rest = err.fields ? h5.showErrors(err.fields) : [err.message];
      if (rest.length && err.status !== 401) zh.flash(rest.join("；"), true);
    });
  });
})();
