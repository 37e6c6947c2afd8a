/* 项目征询 console pages: buttons and forms that call the staff APIs (zh.js sends X-CSRFToken and
 * reads the one error shape). Exposes window.csConsole = {done(text, url), showErrors(form, err)}.
 *   <button data-post="/api/..." [data-confirm="..."] data-done="...">
 *   <button data-moderate="<comment id>" data-decision="approve|reject">
 *   <form class="js-api" data-api="/api/..." data-done="..."> (fields by name, POST as JSON)
 * After success the page reloads (or opens `url`) and shows data-done. */
(function () {
  "use strict";
  var FLASH_KEY = "zh-consultations-flash";
  var saved = sessionStorage.getItem(FLASH_KEY);
  if (saved) { sessionStorage.removeItem(FLASH_KEY); zh.flash(saved); }

  function done(text, url) {
    sessionStorage.setItem(FLASH_KEY, text || "操作成功");
    if (url) location.href = url; else location.reload();
  }

  function showErrors(form, err) {
    var rest = [];
    if (form) form.querySelectorAll(".field-error").forEach(function (el) { el.hidden = true; });
    Object.keys(err.fields || {}).forEach(function (name) {
      var box = form && (form.querySelector('.field-error[data-for="' + name + '"]') ||
                         form.querySelector('.field-error[data-for="' + name.split(".")[0] + '"]'));
      var text = zh.messageOf(err.fields[name]);
      if (box) { box.textContent = text; box.hidden = false; } else rest.push(text);
    });
    zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
  }

  document.querySelectorAll("button[data-post]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
      btn.disabled = true;
      zh.api("POST", btn.dataset.post, {}).then(function () { done(btn.dataset.done); })
        .catch(function (e) { btn.disabled = false; showErrors(null, e); });
    });
  });

  document.querySelectorAll("button[data-moderate]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var body = {decision: btn.dataset.decision};
      if (body.decision === "reject") {
        var reason = window.prompt("不予公开的原因（可不填，仅工作人员可见）", "");
        if (reason === null) return;
        body.reason = reason.trim() || null;
      }
      btn.disabled = true;
      zh.api("POST", "/api/v1/staff/consultations/comments/" + btn.dataset.moderate + "/moderation", body)
        .then(function () { done(body.decision === "approve" ? "已公开" : "已设为不予公开"); })
        .catch(function (e) { btn.disabled = false; showErrors(null, e); });
    });
  });

  document.querySelectorAll("form.js-api").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var missing = Array.prototype.filter.call(form.querySelectorAll("[required]"), function (el) { return !el.value.trim(); });
      if (missing.length) { zh.flash("请填写必填项", true); missing[0].focus(); return; }
      var body = {};
      Array.prototype.forEach.call(form.elements, function (el) { if (el.name) body[el.name] = el.value.trim(); });
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      zh.api("POST", form.dataset.api, body).then(function () { done(form.dataset.done); })
        .catch(function (e) { buttons.forEach(function (b) { b.disabled = false; }); showErrors(form, e); });
    });
  });

  window.csConsole = {done: done, showErrors: showErrors};
})();
