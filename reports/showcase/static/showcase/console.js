/* 文明展示审核 (console): the action buttons of each post call the staff API (approve, refuse
 * and hide with the reason typed beside them, feature), then the page reloads. Needs zh.js. */
(function () {
  "use strict";
  var NEEDS_REASON = {refuse: true, hide: true};

  Array.prototype.forEach.call(document.querySelectorAll(".sc-post [data-act]"), function (btn) {
    btn.addEventListener("click", function () {
      var card = btn.closest(".sc-post"), act = btn.dataset.act, body = {};
      if (NEEDS_REASON[act]) {
        var input = card.querySelector("[data-reason]");
        var reason = input ? input.value.trim() : "";
        if (!reason) { zh.flash("请填写原因（作者可见）", true); if (input) input.focus(); return; }
        body.reason = reason;
      }
      btn.disabled = true;
      zh.api("POST", "/api/v1/staff/showcase/posts/" + card.dataset.id + "/" + act, body)
        .then(function () { location.reload(); })
        .catch(function (err) { btn.disabled = false; zh.fail(err); });
    });
  });
})();
