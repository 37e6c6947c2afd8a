/* 部门管理 (admin): the department tree; add, rename, move, set handled types, (de)activate.
 * API: GET/POST /api/v1/admin/departments, PATCH /api/v1/admin/departments/<id>. */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var tree = $("department-tree"), dialog = $("department-dialog"), form = $("department-form");
  var showInactive = $("department-show-inactive");
  var EDITABLE = ["name", "parent_id", "handles", "is_active"];
  var roots = [], byId = {}, editing = null, inUse = [];
  var handles = form.elements.handles, picks = $("department-handles-picks");
  var other = $("department-handles-other");

  function index(nodes, depth, out) {
    nodes.forEach(function (d) {
      d.depth = depth;
      byId[d.id] = d;
      out.push(d);
      index(d.children, depth + 1, out);
    });
    return out;
  }

  function node(d) {
    if (!d.is_active && !showInactive.checked) return "";
    var handles = d.handles.map(function (t) { return zhm.tag(zhm.typeLabel(t)); }).join(" ");
    return '<li data-id="' + d.id + '"><div class="node">' +
      '<span class="name">' + zh.esc(d.name) + "</span>" +
      '<span class="muted">' + zh.esc(d.code) + " · " + zh.esc(cfg.kinds[d.kind] || d.kind) + "</span>" +
      (handles ? "<span>处置：" + handles + "</span>" : "") +
      (d.is_active ? "" : zhm.tag("已停用", "danger")) +
      '<button type="button" class="btn link" data-op="edit">编辑</button>' +
      '<button type="button" class="btn link" data-op="child">添加下级</button>' +
      '<button type="button" class="btn link" data-op="toggle">' + (d.is_active ? "停用" : "启用") +
      "</button></div>" +
      (d.children.length ? '<ul class="tree">' + d.children.map(node).join("") + "</ul>" : "") + "</li>";
  }

  function render() {
    tree.innerHTML = roots.length ? '<ul class="tree">' + roots.map(node).join("") + "</ul>"
      : '<p class="muted">还没有部门</p>';
  }

  function load() {
    return zh.api("GET", cfg.departments).then(function (data) {
      roots = data; byId = {};
      var flat = index(roots, 0, []);
      var types = {};
      flat.forEach(function (d) { d.handles.forEach(function (t) { types[t] = 1; }); });
      inUse = Object.keys(types);
      $("department-known-types").textContent = "已有部门处置的类型：" +
        (zhm.typeCodes(inUse).filter(function (t) { return types[t]; }).map(zhm.typeLabel)
          .join("、") || "无");
      render();
    }, function (e) { tree.innerHTML = '<p class="error-text">' + zh.esc(e.message) + "</p>"; zhm.fail(e); });
  }

  /* The parent choices: every department but `self` and the departments below it. */
  function parents(self) {
    var select = form.elements.parent_id;
    var below = {};
    (function mark(d) { if (!d) return; below[d.id] = 1; d.children.forEach(mark); })(self);
    select.length = 1;
    index(roots, 0, []).forEach(function (d) {
      if (below[d.id]) return;
      var pad = new Array(d.depth + 1).join("　");
      select.add(new Option(pad + d.name + (d.is_active ? "" : "（已停用）"), d.id));
    });
  }

  /* The handled types as checkboxes named in Chinese (the known types and those in use, the
   * department's own included); the hidden "handles" carries their codes, and a new type's code
   * typed under 其他类型编码 is added to them. */
  function showTypes(codes) {
    picks.innerHTML = zhm.typeCodes(inUse.concat(codes)).map(function (t) {
      return '<label><input type="checkbox" value="' + zh.esc(t) + '"' +
        (codes.indexOf(t) >= 0 ? " checked" : "") + "> " + zh.esc(zhm.typeLabel(t)) + "</label>";
    }).join("");
    other.value = "";
    syncTypes();
  }
  function syncTypes() {
    var codes = Array.prototype.filter.call(picks.querySelectorAll("input"), function (c) {
      return c.checked;
    }).map(function (c) { return c.value; });
    other.value.split(/[,，、\s]+/).forEach(function (t) {
      if (t && codes.indexOf(t) < 0) codes.push(t);
    });
    handles.value = codes.join(",");
  }
  picks.addEventListener("change", syncTypes);
  other.addEventListener("input", syncTypes);

  function open(d, parentId) {
    editing = d;
    form.reset();
    zhm.clearErrors(form);
    parents(d);
    $("department-create-fields").disabled = $("department-create-fields").hidden = !!d;
    $("department-dialog-title").textContent = d ? "编辑部门：" + d.name : "新增部门";
    zhm.fill(form, d || {parent_id: parentId == null ? "" : parentId, is_active: true});
    showTypes(d ? d.handles : []);
    if (d) editing.form = zhm.pick(zhm.values(form), EDITABLE);
    dialog.showModal();
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(form)) return;
    var now = zhm.values(form), req;
    if (editing) {
      var keys = zhm.changed(zhm.pick(now, EDITABLE), editing.form);
      if (!keys.length) { zh.flash("没有需要保存的修改"); dialog.close(); return; }
      req = {method: "PATCH", url: cfg.departments + "/" + editing.id, body: zhm.pick(now, keys),
             ok: "部门已保存"};
    } else {
      req = {method: "POST", url: cfg.departments, body: now, ok: "部门已添加"};
    }
    zhm.send(Object.assign(req, {form: form})).then(function (data) {
      if (data) { dialog.close(); load(); }
    });
  });
  $("department-cancel").addEventListener("click", function () { dialog.close(); });
  $("department-new").addEventListener("click", function () { open(null, null); });
  showInactive.addEventListener("change", render);

  tree.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-op]");
    if (!btn) return;
    var d = byId[btn.closest("li").dataset.id];
    if (btn.dataset.op === "edit") { open(d); return; }
    if (btn.dataset.op === "child") { open(null, d.id); return; }
    zhm.send({method: "PATCH", url: cfg.departments + "/" + d.id, body: {is_active: !d.is_active},
              button: btn, ok: d.is_active ? "部门已停用" : "部门已启用"})
      .then(function (data) { if (data) load(); });
  });
  load();
})();
