/* 网络舆情 console pages: JSON forms and buttons that call the staff APIs, and the counts chart.
 * Needs zh.js (X-CSRFToken, one error shape).
 *   <form class="js-api" data-api="/api/..." [data-method="PUT"] data-done="...">
 *     fields by name ("rule.item" goes into a nested "rule" object); data-kind on a field: int,
 *     list (split on commas, spaces, 、); empty fields are left out.
 *   <button data-post="/api/..."> or <button data-patch="/api/..." data-body='{"json": 1}'>
 * After success the page reloads and shows data-done; a refusal is shown as the server says. */
(function () {
  "use strict";
  var FLASH_KEY = "zh-opinion-flash";
  var saved = sessionStorage.getItem(FLASH_KEY);
  if (saved) { sessionStorage.removeItem(FLASH_KEY); zh.flash(saved); }

  function done(text) {
    sessionStorage.setItem(FLASH_KEY, text || "操作成功");
    location.reload();
  }

  function convert(el) {
    var raw = el.value.trim(), kind = el.dataset.kind || "";
    if (kind === "list") return raw ? raw.split(/[\s,，、;；]+/).filter(Boolean) : [];
    if (raw === "") return undefined;
    if (kind === "int") return parseInt(raw, 10);
    return raw;
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

  function body(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      var value = convert(el);
      if (value === undefined) return;
      var parts = el.name.split(".");
      if (parts.length === 2) { out[parts[0]] = out[parts[0]] || {}; out[parts[0]][parts[1]] = value; } else out[el.name] = value;
    });
    if (out.kind && out.kind !== "page") delete out.rule;
    return out;
  }

  document.querySelectorAll("form.js-api").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      form.querySelectorAll(".field-error").forEach(function (el) { el.hidden = true; });
      var missing = Array.prototype.filter.call(form.querySelectorAll("[required]"), function (el) { return !el.value.trim(); });
      if (missing.length) { zh.flash("请填写必填项", true); missing[0].focus(); return; }
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      zh.api(form.dataset.method || "POST", form.dataset.api, body(form)).then(function () {
        done(form.dataset.done);
      }).catch(function (e) {
        buttons.forEach(function (b) { b.disabled = false; });
        showErrors(form, e);
      });
    });
  });

  document.querySelectorAll("button[data-post], button[data-patch]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      btn.disabled = true;
      var method = btn.dataset.patch ? "PATCH" : "POST";
      var payload = btn.dataset.body ? JSON.parse(btn.dataset.body) : undefined;
      zh.api(method, btn.dataset.patch || btn.dataset.post, payload).then(function () { done(btn.dataset.done); })
        .catch(function (e) { btn.disabled = false; showErrors(null, e); });
    });
  });

  // ------------------------------------------------------------ counts chart

  var config = document.getElementById("counts-config");
  var el = document.getElementById("counts-chart");
  if (config && el && window.echarts) {
    var data = JSON.parse(config.textContent);
    var keys = Object.keys(data.labels);
    var chart = echarts.init(el);
    window.addEventListener("resize", function () { chart.resize(); });
    chart.setOption({
      tooltip: {trigger: "axis"},
      legend: {top: 0, data: keys.map(function (k) { return data.labels[k]; })},
      grid: {left: 40, right: 16, top: 36, bottom: 28},
      xAxis: {type: "category", data: data.months.map(function (m) { return m.month + "月"; })},
      yAxis: {type: "value", minInterval: 1},
      series: keys.map(function (k) {
        return {name: data.labels[k], type: "bar", data: data.months.map(function (m) { return m[k]; })};
      })
    });
  }
})();
