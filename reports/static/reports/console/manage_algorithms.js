/* 识别算法 (admin): the detection algorithm catalogue; add an algorithm or change one.
 * API: GET/POST /api/v1/admin/detection-algorithms, PATCH /api/v1/admin/detection-algorithms/<code>. */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var form = $("algorithm-form"), rows = $("algorithm-rows");
  var byCode = {}, editing = null;

  function seconds(n) {
    if (!n) return "不冷却";
    if (n % 3600 === 0) return (n / 3600) + " 小时";
    if (n % 60 === 0) return (n / 60) + " 分钟";
    return n + " 秒";
  }

  function row(a) {
    return '<tr data-code="' + zh.esc(a.code) + '"><td>' + zh.esc(a.code) + "</td><td>" + zh.esc(a.name) +
      "</td><td>" + zh.esc(cfg.categories[a.category] || a.category_name) + "</td><td>" +
      Math.round(a.threshold * 100) + "%</td><td>" + seconds(a.cooldown_seconds) + "</td><td>" +
      a.cooldown_radius_m + " 米</td><td>" + (a.is_active ? zhm.tag("启用", "ok") : zhm.tag("已停用")) +
      '</td><td class="ops"><button type="button" class="btn link" data-op="edit">修改</button></td></tr>';
  }

  function load() {
    return zh.api("GET", cfg.algorithms).then(function (items) {
      byCode = {};
      items.forEach(function (a) { byCode[a.code] = a; });
      rows.innerHTML = items.map(row).join("") ||
        '<tr><td colspan="8" class="muted">还没有识别算法</td></tr>';
    }, zhm.fail);
  }

  function startNew() {
    editing = null;
    form.reset();
    zhm.clearErrors(form);
    form.elements.code.disabled = false;
    form.elements.is_active.checked = true;
    $("algorithm-form-title").textContent = "新增算法";
  }

  function startEdit(code) {
    var a = byCode[code];
    if (!a) return;
    editing = a;
    zhm.clearErrors(form);
    zhm.fill(form, a);
    form.elements.code.disabled = true;
    $("algorithm-form-title").textContent = "修改算法 " + a.code;
    form.elements.name.focus();
  }

  rows.addEventListener("click", function (ev) {
    var button = ev.target.closest("button[data-op=edit]");
    if (button) startEdit(button.closest("tr").dataset.code);
  });
  $("algorithm-new").addEventListener("click", startNew);
  $("algorithm-cancel").addEventListener("click", startNew);

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(form)) return;
    var body = zhm.values(form);
    if (body.description === "") body.description = null;
    var request = editing
      ? {method: "PATCH", url: cfg.algorithms + "/" + encodeURIComponent(editing.code),
         body: zhm.pick(body, zhm.changed(body, editing)), ok: "已保存"}
      : {method: "POST", url: cfg.algorithms, body: body, ok: "已新增算法"};
    zhm.send(Object.assign({form: form}, request)).then(function (saved) {
      if (!saved) return;
      load().then(function () { startEdit(saved.code); });
    });
  });

  startNew();
  load();
})();
