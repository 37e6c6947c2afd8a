/* 牛皮癣 console pages: the inspector's capture form (upload -> OCR suggestions -> confirmed
 * numbers -> record) and the advertiser page's action buttons. Needs zh.js (CSRF, errors). */
(function () {
  "use strict";

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  var form = document.getElementById("capture-form");
  if (form) {
    var photoId = null, suggested = [], key = newKey();
    var status = document.getElementById("ocr-status");
    document.getElementById("photo").addEventListener("change", function (ev) {
      var file = ev.target.files[0];
      if (!file) return;
      status.textContent = "正在上传并识别号码…";
      var body = new FormData();
      body.append("file", file);
      zh.api("POST", "/api/v1/media", body).then(function (m) {
        photoId = m.id;
        return zh.api("POST", "/api/v1/staff/smallads/ocr", {photo: m.id});
      }).then(function (out) {
        suggested = out.suggestions.map(function (s) { return s.number; });
        document.getElementById("numbers").value = suggested.join("\n");
        status.textContent = suggested.length ? "识别到 " + suggested.length + " 个号码，请核对后登记"
          : "未识别到号码，请手工输入";
      }).catch(function (err) { status.textContent = err.message; });
    });
    document.getElementById("locate").addEventListener("click", function () {
      if (!navigator.geolocation) return;
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("lat").value = pos.coords.latitude;
        document.getElementById("lng").value = pos.coords.longitude;
      });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!photoId) { zh.flash("请先拍摄现场照片", true); return; }
      var numbers = document.getElementById("numbers").value.split(/[\n,，、]+/)
        .map(function (s) { return s.trim(); }).filter(Boolean);
      var body = {photo: photoId, numbers: numbers, suggested: suggested,
                  lat: parseFloat(document.getElementById("lat").value),
                  lng: parseFloat(document.getElementById("lng").value),
                  coord_sys: "wgs84"};
      var address = document.getElementById("address").value.trim();
      if (address) body.address = address;
      zh.api("POST", "/api/v1/staff/smallads/captures", body, {"Idempotency-Key": key})
        .then(function (out) {
          zh.flash("已登记号码：" + out.numbers.join("、"));
          form.reset(); photoId = null; suggested = []; key = newKey();
          status.textContent = "可继续拍摄下一张";
        }).catch(function (err) { zh.flash(err.message, true); });
    });
  }

  var box = document.getElementById("advertiser");
  if (box) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-act]"), function (btn) {
      btn.addEventListener("click", function () {
        if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
        btn.disabled = true;
        zh.api("POST", "/api/v1/staff/smallads/advertisers/" + box.dataset.id + "/" + btn.dataset.act, {})
          .then(function () { location.reload(); })
          .catch(function (err) { btn.disabled = false; zh.flash(err.message, true); });
      });
    });
  }
})();
