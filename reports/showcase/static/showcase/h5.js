/* 文明行为展示 H5 pages (gallery, one post, my posts): like buttons (one like per person; a
 * signed-out visitor is sent to sign in), the report form, deleting one's own post, and photo
 * links renewed when they expire. Needs zh.js and h5.js. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------ likes

  function setLike(btn, liked, count) {
    btn.classList.toggle("sc-like_on", liked);
    btn.setAttribute("aria-pressed", liked ? "true" : "false");
    btn.setAttribute("aria-label", "点赞，已有" + count + "人点赞");
    btn.querySelector(".sc-like__n").textContent = count;
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-like]"), function (btn) {
    btn.addEventListener("click", function () {
      var liked = btn.getAttribute("aria-pressed") === "true";
      btn.disabled = true;
      zh.api(liked ? "DELETE" : "POST", "/api/v1/showcase/posts/" + btn.dataset.like + "/like")
        .then(function (out) { setLike(btn, out.liked, out.like_count); })
        .catch(function (err) { if (err.status !== 401) zh.flash(err.message, true); })
        .then(function () { btn.disabled = false; });
    });
  });

  // ------------------------------------------------------------ the report form

  var form = $("flag-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      h5.clearErrors();
      var picked = form.querySelector('input[name="reason"]:checked');
      if (!picked) { h5.showErrors({reason: ["请选择举报原因"]}); return; }
      var body = {reason: picked.value};
      var note = $("flag-note").value.trim();
      if (note) body.note = note;
      $("flag-submit").disabled = true;
      zh.api("POST", form.dataset.api, body).then(function () {
        h5.toast("举报已提交，我们会尽快核实");
        $("flag-box").open = false;
        form.reset();
      }, function (err) {
        var rest = err.fields ? h5.showErrors(err.fields) : [err.message];
        if (rest.length && err.status !== 401) zh.flash(rest.join("；"), true);
      }).then(function () { $("flag-submit").disabled = false; });
    });
  }

  // ------------------------------------------------------------ my posts

  Array.prototype.forEach.call(document.querySelectorAll("[data-delete]"), function (btn) {
    btn.addEventListener("click", function () {
      if (!window.confirm("确定删除这条作品吗？删除后无法恢复。")) return;
      btn.disabled = true;
      zh.api("DELETE", btn.dataset.api).then(function () {
        var row = $("mine-" + btn.dataset.delete);
        if (row) row.remove();
        h5.toast("已删除");
      }, function (err) { btn.disabled = false; zh.flash(err.message, true); });
    });
  });

  // ------------------------------------------------------------ expired photo links

  function renewFrom(root, pick) {
    if (!root || !root.dataset.api) return;
    h5.freshPhotos(root, function () {
      return zh.api("GET", root.dataset.api).then(function (out) {
        var urls = {};
        pick(out).forEach(function (post) {
          (post.photos || []).forEach(function (photo) { urls[photo.id] = photo.url; });
        });
        return urls;
      });
    });
  }
  var items = function (out) { return out.items || []; };
  renewFrom($("showcase-list"), items);
  renewFrom($("mine-list"), items);
  renewFrom($("showcase-post"), function (post) { return [post]; });
})();
