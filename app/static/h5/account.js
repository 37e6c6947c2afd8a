/* 我的数据与账号注销: the account deletion (DELETE /api/v1/me with one Idempotency-Key per page,
 * so a double tap or a retry after a lost answer makes one deletion). Needs zh.js and h5.js. */
(function () {
  "use strict";
  var button = document.getElementById("delete-account");
  if (!button) return;
  var key = "del-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);

  button.addEventListener("click", function () {
    var input = document.getElementById("confirm");
    h5.clearErrors();
    button.disabled = true;
    zh.api("DELETE", button.dataset.api, {confirm: input.value.trim()}, {"Idempotency-Key": key})
      .then(function (done) {
        var box = document.getElementById("delete-done");
        box.textContent = done.message;
        box.hidden = false;
        document.getElementById("delete-box").hidden = true;
        button.hidden = true;
        setTimeout(function () { window.location = button.dataset.home; }, 3000);
      }, function (err) {
        button.disabled = false;
        var rest = err.fields ? h5.showErrors(err.fields) : [err.message];
        if (rest.length) zh.flash(rest.join("；"), true);
      });
  });
}());
