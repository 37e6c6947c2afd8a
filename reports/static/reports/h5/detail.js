/* 智慧城管 H5 report page: the small map, the success toast after submitting, the rating form,
 * 不满意，重新办理 (a closed case, with a reason) and 补充说明 (an open case). The photos open in
 * h5.js's viewer; a photo whose short-lived link expired while the page was open gets a fresh
 * one from the case's JSON (GET /api/v1/reports/<number>, #report-detail-config's api).
 * Needs zh.js, h5.js and (when the report has a point) Leaflet; ids are those of h5/report_detail.html. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };

  if (/[?&]submitted=1/.test(location.search) && window.history.replaceState) {
    history.replaceState(null, "", location.pathname);  // a reload shows no second toast
  }

  var config = {};
  try { config = JSON.parse($("report-detail-config").textContent); } catch (ignored) { config = {}; }

  // Every photo of the case, by media id: the report's own, the after photos, the timeline's.
  if (config.api) {
    h5.freshPhotos(document.querySelector(".page") || document.body, function () {
      return zh.api("GET", config.api).then(function (report) {
        var urls = {};
        function add(p) { urls[p.id] = p.url; }
        (report.photos || []).forEach(add);
        (report.timeline || []).forEach(function (e) { (e.photos || []).forEach(add); });
        return urls;
      });
    });
  }

  var mapEl = $("detail-map");
  if (mapEl && window.L) {
    var point = [parseFloat(mapEl.dataset.lat), parseFloat(mapEl.dataset.lng)];
    var m = h5.map(mapEl, point);
    L.circleMarker(point, {radius: 9, color: "#fff", weight: 2, fillColor: "#fa5151", fillOpacity: 1}).addTo(m);
  }

  /* POST {field: text} to form.dataset.api; a toast, then the page again with the new state. */
  function sendText(form, field, button, done, localError) {
    form.elements[field].addEventListener("input", function () {
      if (!localError(form.elements[field].value.trim())) h5.fieldOk(field);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      h5.clearErrors();
      var text = form.elements[field].value.trim();
      var problem = localError(text);
      if (problem) { var errs = {}; errs[field] = [problem]; h5.showErrors(errs); return; }
      var body = {}; body[field] = text;
      button.disabled = true;
      zh.api("POST", form.dataset.api, body).then(function () {
        h5.toast(done);
        setTimeout(function () { location.reload(); }, 1200);
      }, function (err) {
        button.disabled = false;
        var rest = err.fields ? h5.showErrors(err.fields) : [];
        zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
        if (err.status === 409) setTimeout(function () { location.reload(); }, 1500);
      });
    });
  }

  var reopen = $("reopen-form");
  if (reopen) {
    $("reopen-open").addEventListener("click", function () {
      reopen.hidden = false;
      $("reopen-open").hidden = true;
      $("reopen-reason").focus();
    });
    sendText(reopen, "reason", $("reopen-submit"), "已提交，工作人员将重新办理", function (text) {
      return text.length < 5 ? "请用至少5个字说明不满意的原因" : "";
    });
  }

  var comment = $("comment-form");
  if (comment) {
    sendText(comment, "text", $("comment-submit"), "补充说明已提交", function (text) {
      return text.length < 2 ? "请填写补充说明" : "";
    });
  }

  var form = $("rating-form");
  if (!form) return;
  var button = $("rating-submit");

  form.addEventListener("change", function (e) {
    if (e.target.name !== "rating") return;
    $("rating-word").textContent = e.target.value + " 星：" + e.target.dataset.word;
    h5.fieldOk("rating");
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    h5.clearErrors();
    var picked = form.querySelector('input[name="rating"]:checked');
    if (!picked) { h5.showErrors({rating: ["请先点击星星选择评分"]}); return; }
    var body = {rating: parseInt(picked.value, 10)};
    var comment = $("rating-comment").value.trim();
    if (comment) body.comment = comment;
    button.disabled = true;
    zh.api("POST", form.dataset.api, body).then(function () {
      h5.toast("感谢您的评价");
      setTimeout(function () { location.reload(); }, 1200);
    }, function (err) {
      button.disabled = false;
      var rest = err.fields ? h5.showErrors(err.fields) : [];
      zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
      if (err.code === "already_rated") setTimeout(function () { location.reload(); }, 1500);
    });
  });
})();
