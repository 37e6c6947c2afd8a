/* 关键词回复: the list and the editor of the public account's keyword replies, through
 * /api/v1/admin/wechat/keywords (POST to add, PATCH to change, DELETE to remove). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("kw-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var form = $("kw-form"), editor = $("kw-editor");
  var items = [], current = null;

  function row(k) {
    return '<tr data-id="' + k.id + '"><td>' + zh.esc(k.keyword) + "</td><td>" + zh.esc(k.match_label) +
      "</td><td>" + zh.esc(k.reply) + "</td><td>" + (k.active ? "启用" : "停用") +
      '</td><td><button type="button" class="btn link kw-edit" data-id="' + k.id + '">编辑</button></td></tr>';
  }

  function list() {
    return zh.api("GET", cfg.api).then(function (data) {
      items = data.items;
      $("kw-rows").innerHTML = items.length ? items.map(row).join("")
        : '<tr><td colspan="5" class="muted">暂无关键词</td></tr>';
    }).catch(function (e) { zh.fail(e, form); });
  }

  function fill(k) {
    current = k;
    editor.hidden = false;
    $("kw-editor-title").textContent = k ? "编辑关键词" : "新建关键词";
    form.keyword.value = k ? k.keyword : "";
    form.match.value = k ? k.match : "exact";
    form.reply.value = k ? k.reply : "";
    form.active.checked = k ? k.active : true;
    $("kw-delete").hidden = !k;
    form.keyword.focus();
  }

  $("kw-new").addEventListener("click", function () { fill(null); });
  $("kw-cancel").addEventListener("click", function () { editor.hidden = true; current = null; });
  $("kw-rows").addEventListener("click", function (ev) {
    var id = ev.target.getAttribute && ev.target.getAttribute("data-id");
    if (!id || !ev.target.classList.contains("kw-edit")) return;
    fill(items.filter(function (k) { return String(k.id) === id; })[0] || null);
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {keyword: form.keyword.value, match: form.match.value, reply: form.reply.value,
                active: form.active.checked};
    var call = current ? zh.api("PATCH", cfg.api + "/" + current.id, body) : zh.api("POST", cfg.api, body);
    call.then(function () {
      zh.flash("已保存");
      editor.hidden = true;
      current = null;
      return list();
    }).catch(function (e) { zh.fail(e, form); });
  });

  $("kw-delete").addEventListener("click", function () {
    if (!current || !window.confirm("确定删除关键词“" + current.keyword + "”吗？")) return;
    zh.api("DELETE", cfg.api + "/" + current.id).then(function () {
      zh.flash("已删除");
      editor.hidden = true;
      current = null;
      return list();
    }).catch(function (e) { zh.fail(e, form); });
  });

  list();
}());
