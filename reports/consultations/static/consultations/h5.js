/* Project consultation pages (H5): the project's map, and a phase's answers and comments.
 * Needs zh.js and h5/h5.js (h5.map, h5.toast, h5.showErrors).
 *   #project-map + #project-place: the project's point and area over the region map
 *   #answer-form: PUT {answers} to the phase's response API (one response a citizen, changeable
 *     until the phase closes); field errors under each question
 *   #comment-form: POST {kind, body} with an Idempotency-Key (a retry makes no second comment) */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------ the project's map

  var mapEl = $("project-map"), placeEl = $("project-place");
  if (mapEl && placeEl && window.L) {
    var place = JSON.parse(placeEl.textContent);
    var m = h5.map(mapEl, [place.lat, place.lng]);
    if (place.area) {
      L.geoJSON(place.area, {style: {color: "#07c160", weight: 2, fillOpacity: 0.15}}).addTo(m);
    }
    L.circleMarker([place.lat, place.lng], {radius: 8, color: "#fff", weight: 2, fillColor: "#fa5151", fillOpacity: 1})
      .bindTooltip("项目位置").addTo(m);
  }

  var cfgEl = $("phase-config");
  if (!cfgEl) return;
  var cfg = JSON.parse(cfgEl.textContent);

  // ------------------------------------------------------------ stars

  document.querySelectorAll(".cs-stars").forEach(function (group) {
    group.addEventListener("change", function () {
      var picked = group.querySelector("input:checked");
      var value = picked ? +picked.value : 0;
      group.querySelectorAll(".cs-star").forEach(function (label) {
        label.classList.toggle("cs-star_on", +label.querySelector("input").value <= value);
      });
    });
  });

  // ------------------------------------------------------------ answers

  function answers(form) {
    var out = {};
    form.querySelectorAll(".cs-question").forEach(function (q) {
      var key = q.dataset.key, kind = q.dataset.kind;
      if (kind === "text") {
        var text = q.querySelector("textarea").value.trim();
        if (text) out[key] = text;
      } else if (kind === "multiple") {
        var picks = Array.prototype.map.call(q.querySelectorAll("input:checked"), function (i) { return +i.value; });
        if (picks.length) out[key] = picks;
      } else {
        var one = q.querySelector("input:checked");
        if (one) out[key] = +one.value;
      }
    });
    return out;
  }

  function fail(e, form) {
    var rest = h5.showErrors(e.fields || {});
    zh.flash(e.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
    if (form) form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
  }

  var form = $("answer-form");
  if (form && $("submit-btn")) {
    form.addEventListener("change", function (e) {
      var q = e.target.closest && e.target.closest(".cs-question");
      if (q) h5.fieldOk("answers." + q.dataset.key);
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      h5.clearErrors();
      var missing = Array.prototype.filter.call(form.querySelectorAll(".cs-question"), function (q) {
        return q.querySelector(".h5-question__required") && !answerOf(q);
      });
      if (missing.length) {
        missing.forEach(function (q) { var f = {}; f["answers." + q.dataset.key] = ["此题必答"]; h5.showErrors(f); });
        zh.flash("还有必答题没有回答", true);
        return;
      }
      var button = $("submit-btn");
      button.disabled = true;
      zh.api("PUT", cfg.response, {answers: answers(form)}).then(function (r) {
        button.disabled = false;
        button.textContent = "修改并重新提交";
        var notice = $("phase-notice");
        if (notice) notice.textContent = "您已于 " + zh.time(r.updated_at) + " 提交，阶段结束前可以修改后重新提交。";
        if (r.created && $("phase-count")) $("phase-count").textContent = +$("phase-count").textContent + 1;
        h5.toast(r.created ? "提交成功，感谢参与" : "已保存修改");
      }).catch(function (e) { fail(e, form); });
    });
  }

  function answerOf(q) {
    if (q.dataset.kind === "text") return q.querySelector("textarea").value.trim();
    return q.querySelector("input:checked");
  }

  // ------------------------------------------------------------ comments and proposals

  var commentForm = $("comment-form");
  var commentKey = null;  // one key per comment: a retry after a network error reuses it
  if (commentForm) {
    commentForm.addEventListener("input", function () { h5.fieldOk("body"); commentKey = null; });
    commentForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      h5.clearErrors();
      var body = $("comment-body").value.trim();
      if (!body) { h5.showErrors({body: ["请填写留言内容"]}); return; }
      var kindEl = commentForm.querySelector('[name="kind"]:checked') || commentForm.querySelector('[name="kind"]');
      commentKey = commentKey || ("c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10));
      var button = $("comment-btn");
      button.disabled = true;
      zh.api("POST", cfg.comments, {kind: kindEl.value, body: body}, {"Idempotency-Key": commentKey}).then(function (c) {
        button.disabled = false;
        commentKey = null;
        $("comment-body").value = "";
        var empty = $("comments-empty");
        if (empty) empty.parentNode.remove();
        var row = document.createElement("div");
        row.className = "weui-cell cs-comment";
        row.dataset.id = c.id;
        row.innerHTML = '<div class="weui-cell__bd"><p class="h5-muted"><span class="h5-tag">' + zh.esc(c.kind_label) +
          "</span> " + zh.esc(c.author) + " · " + zh.esc(zh.time(c.created_at)) +
          ' <span class="h5-tag warn">待审核，仅自己可见</span></p><p class="h5-text">' + zh.esc(c.body) + "</p></div>";
        $("comment-list").insertBefore(row, $("comment-list").firstChild);
        h5.toast("已提交，审核后公开");
      }).catch(function (e) { fail(e, commentForm); });
    });
  }
})();
