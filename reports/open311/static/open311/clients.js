/* Open311 clients page: add a client, issue a new key, revoke, through the admin API.
 * Needs zh.js (X-CSRFToken, one error shape). A new key is shown once in #key-box; the page
 * reloads only when the admin closes it, so the key is never written anywhere else. */
(function () {
  "use strict";
  var FLASH_KEY = "zh-open311-flash";
  var saved = sessionStorage.getItem(FLASH_KEY);
  if (saved) { sessionStorage.removeItem(FLASH_KEY); zh.flash(saved); }

  function reload(text) {
    sessionStorage.setItem(FLASH_KEY, text);
    location.reload();
  }

  function showKey(client) {
    document.getElementById("new-key").textContent = client.api_key;
    var box = document.getElementById("key-box");
    box.hidden = false;
    box.scrollIntoView();
    zh.flash("已为“" + client.name + "”发放密钥，请立即复制");
  }

  function showErrors(form, err) {
    var rest = [];
    Object.keys(err.fields || {}).forEach(function (name) {
      var box = form && form.querySelector('.field-error[data-for="' + name + '"]');
      var text = zh.messageOf(err.fields[name]);
      if (box) { box.textContent = text; box.hidden = false; } else rest.push(text);
    });
    zh.flash(err.message + (rest.length ? "（" + rest.join("；") + "）" : ""), true);
  }

  document.getElementById("key-done").addEventListener("click", function () {
    document.getElementById("new-key").textContent = "";
    reload("密钥已发放");
  });

  var form = document.getElementById("client-form");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    form.querySelectorAll(".field-error").forEach(function (el) { el.hidden = true; });
    var name = form.elements.name.value.trim();
    if (!name) { zh.flash("请填写名称", true); form.elements.name.focus(); return; }
    var body = {name: name, rate_count: parseInt(form.elements.rate_count.value, 10) || 60,
                rate_period: form.elements.rate_period.value};
    var contact = form.elements.contact.value.trim();
    if (contact) body.contact = contact;
    var button = document.getElementById("client-save");
    button.disabled = true;
    zh.api("POST", form.dataset.api, body).then(function (client) {
      form.reset();
      showKey(client);
    }).catch(function (e) {
      button.disabled = false;
      showErrors(form, e);
    });
  });

  document.querySelectorAll("button[data-key], button[data-revoke]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (!window.confirm(btn.dataset.confirm)) return;
      btn.disabled = true;
      var url = btn.dataset.key || btn.dataset.revoke;
      zh.api("POST", url).then(function (client) {
        if (btn.dataset.key) showKey(client); else reload("已停用");
      }).catch(function (e) { btn.disabled = false; showErrors(null, e); });
    });
  });
}());
