/* 智慧城管 H5 report page: the small map, the success toast after submitting, the rating form.
 * Needs zh.js, h5.js and (when the report has a point) Leaflet; ids are those of h5/report_detail.html. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };

  if (/[?&]submitted=1/.test(location.search) && window.history.replaceState) {
    history.replaceState(null, "", location.pathname);  // a reload shows no second toast
  }

  var mapEl = $("detail-map");
  if (mapEl && window.L) {
    var point = [parseFloat(mapEl.dataset.lat), parseFloat(mapEl.dataset.lng)];
    var m = h5.map(mapEl, point);
    L.circleMarker(point, {radius: 9, color: "#fff", weight: 2, fillColor: "#fa5151", fillOpacity: 1}).addTo(m);
  }

  var form = $("rating-form");
  if (!form) return;
  var button = $("rating-submit");

  form.addEventListener("change", function (e) {
    if (e.target.name !== "rating") return;
    $("rating-word").textContent = e.target.value + " 星：" + e.target.dataset.word;
    $("error-rating").hidden = true;
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
