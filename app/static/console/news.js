/* 城管动态: the article list (server paging, status filter) and the editor. Writes go through
 * /api/v1/staff/news (PATCH with the version read: a stale edit gets 409 and a message). Publishing
 * saves the form first, so what is published is what the editor shows. ?edit=<id> opens an article,
 * ?new=1 a blank form. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("news-config").textContent);
  var PER_PAGE = 20;
  var $ = function (id) { return document.getElementById(id); };
  var form = $("news-form"), editor = $("news-editor");
  var current = null;  // the article being edited, as the API last returned it
  var page = 1;

  /* An API error as a flash; a refused field is named by its label (the API's key is no word
   * people read): "标题：…". */
  function fail(e) {
    var fields = e.fields || {};
    var text = Object.keys(fields).map(function (k) {
      var c = form.elements[k], label = c && c.id && form.querySelector('label[for="' + c.id + '"]');
      var name = label ? label.textContent.replace(/（.*$/, "").trim() : "", v = fields[k];
      return (name ? name + "：" : "") + (Array.isArray(v) ? v.join("；") : String(v));
    }).join("；");
    zh.flash(e.message + (text ? "（" + text + "）" : ""), true);
  }

  function statusTag(a) {
    var tone = {published: "ok", draft: "warn", withdrawn: ""}[a.status] || "";
    return '<span class="tag ' + tone + '" data-status="' + zh.esc(a.status) + '">' +
      zh.esc(a.status_label || cfg.statuses[a.status]) + "</span>";
  }

  function row(a) {
    var view = a.status === "published"
      ? ' <a class="btn link" target="_blank" rel="noopener" href="' + zh.esc(cfg.public + "/" + a.id) + '">查看</a>' : "";
    return '<tr data-id="' + a.id + '"><td>' + zh.esc(a.title) + '<div class="muted">' + zh.esc(a.summary) + "</div></td>" +
      "<td>" + statusTag(a) + "</td><td>" + zh.esc(zh.time(a.published_at)) + "</td>" +
      "<td>" + zh.esc(zh.time(a.updated_at)) + "</td><td>" + zh.esc(a.author || "") + "</td>" +
      '<td><button type="button" class="btn link news-edit" data-id="' + a.id + '">编辑</button>' + view + "</td></tr>";
  }

  function list(p) {
    page = p || page;
    var query = {status: $("news-status-filter").value, page: page, per_page: PER_PAGE};
    return zh.api("GET", cfg.api + zh.qs(query)).then(function (data) {
      $("news-rows").innerHTML = data.items.length ? data.items.map(row).join("")
        : '<tr><td colspan="6" class="muted">暂无文章</td></tr>';
      $("news-summary").textContent = "共 " + data.total + " 篇";
      zh.pager($("news-pager"), data.page, data.per_page, data.total, list);
    }).catch(fail);
  }

  function showCover(cover) {
    $("news-cover").value = cover ? cover.id : "";
    $("cover-preview").innerHTML = cover && cover.url ? '<img src="' + zh.esc(cover.url) + '" alt="封面预览">' : "";
    $("news-cover-remove").hidden = !cover;
  }

  function fill(a) {
    current = a;
    editor.hidden = false;
    form.title.value = a ? a.title : "";
    form.summary.value = a ? a.summary : "";
    form.body.value = a ? a.body : "";
    $("news-cover-file").value = "";
    showCover(a ? a.cover : null);
    $("news-editor-title").textContent = a ? "编辑文章" : "新建文章";
    $("news-editor-state").innerHTML = a ? "状态：" + statusTag(a) + (a.published_at ? " 发布时间：" + zh.esc(zh.time(a.published_at)) : "") : "新文章保存后为草稿";
    $("news-publish").hidden = !!(a && a.status === "published");
    $("news-publish").textContent = a && a.status === "withdrawn" ? "重新发布" : "发布";
    $("news-withdraw").hidden = !(a && a.status === "published");
    $("news-view").hidden = !(a && a.status === "published");
    if (a) $("news-view").href = cfg.public + "/" + a.id;
    $("news-save").textContent = a && a.status === "published" ? "保存修改（立即生效）" : "保存草稿";
    form.title.focus();
  }

  function open(id) {
    return zh.api("GET", cfg.api + "/" + id).then(fill).catch(fail);
  }

  function payload() {
    return {title: form.title.value, summary: form.summary.value, body: form.body.value,
            cover: $("news-cover").value || null};
  }

  function save() {
    var body = payload();
    if (!body.title.trim() || !body.body.trim()) {
      zh.flash("请填写标题和正文", true);
      return Promise.reject(new Error("incomplete"));
    }
    var req = current
      ? zh.api("PATCH", cfg.api + "/" + current.id, Object.assign(body, {version: current.version}))
      : zh.api("POST", cfg.api, body);
    return req.then(function (a) { fill(a); list(); return a; });
  }

  function act(action, okText) {
    return function (a) {
      return zh.api("POST", cfg.api + "/" + a.id + "/" + action, {version: a.version}).then(function (b) {
        fill(b); list(); zh.flash(okText);
      });
    };
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    save().then(function () { zh.flash("已保存"); }, function (e) { if (e.message !== "incomplete") fail(e); });
  });
  $("news-publish").addEventListener("click", function () {
    save().then(act("publish", "已发布，市民可在“城管动态”中看到"))
      .catch(function (e) { if (e.message !== "incomplete") fail(e); });
  });
  $("news-withdraw").addEventListener("click", function () {
    if (!current || !window.confirm("撤回后市民将看不到这篇文章，确定撤回吗？")) return;
    act("withdraw", "已撤回")(current).catch(fail);
  });
  $("news-cancel").addEventListener("click", function () { editor.hidden = true; current = null; });
  $("news-new").addEventListener("click", function () { fill(null); });
  $("news-status-filter").addEventListener("change", function () { list(1); });
  $("news-rows").addEventListener("click", function (ev) {
    var btn = ev.target.closest(".news-edit");
    if (btn) open(btn.getAttribute("data-id"));
  });
  $("news-cover-file").addEventListener("change", function () {
    var file = this.files[0];
    if (!file) return;
    var data = new FormData();
    data.append("file", file);
    zh.flash("封面上传中…");
    zh.api("POST", cfg.media, data).then(function (m) { showCover(m); zh.flash("封面已上传，保存后生效"); })
      .catch(fail);
  });
  $("news-cover-remove").addEventListener("click", function () { $("news-cover-file").value = ""; showCover(null); });

  var params = new URLSearchParams(location.search);
  list(1);
  if (params.get("edit")) open(params.get("edit"));
  else if (params.get("new")) fill(null);
})();
