/* 类别管理 (admin): the 部件/事件 category tree; add a category, change its time limit, department
 * type, photo rule, active flag, GB/T 30428.2 code and definition (the help text citizens see). API: GET/POST /api/v1/admin/categories,
 * PATCH /api/v1/admin/categories/<id>, GET /api/v1/admin/departments (handled types). */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var filters = $("category-filters"), tree = $("category-tree");
  var dialog = $("category-dialog"), form = $("category-form");
  var EDITABLE = ["time_limit", "time_unit", "department_type", "photo_required", "is_active",
                  "gb_code", "definition"];
  var CLEARABLE = ["gb_code", "definition"];  // an emptied field is sent as null (none)
  var all = [], editing = null;

  function matches(c, f) {
    if (f.kind && c.kind !== f.kind) return false;
    if (f.active && String(c.is_active) !== f.active) return false;
    return !f.q || c.name.indexOf(f.q) >= 0 || c.code.toUpperCase().indexOf(f.q.toUpperCase()) >= 0 ||
      c.major_name.indexOf(f.q) >= 0;
  }

  function row(c) {
    return '<tr data-id="' + c.id + '"' + (c.is_active ? "" : ' class="inactive"') + ">" +
      "<td>" + zh.esc(c.code) + "</td><td>" + zh.esc(c.gb_code || "—") + "</td>" +
      '<td title="' + zh.esc(c.definition || "") + '">' + zh.esc(c.minor_code) + " " + zh.esc(c.name) +
      (c.definition ? '<br><span class="muted">' + zh.esc(c.definition) + "</span>" : "") + "</td>" +
      "<td>" + zh.esc(c.time_limit_label) + "</td><td>" + zh.esc(zhm.typeLabel(c.department_type)) + "</td>" +
      "<td>" + zhm.yesNo(c.photo_required) + "</td><td>" + zhm.yesNo(c.shop_related) + "</td>" +
      "<td>" + (c.is_active ? zhm.tag("启用", "ok") : zhm.tag("已停用")) + "</td>" +
      '<td class="ops"><button type="button" class="btn" data-op="edit">编辑</button>' +
      '<button type="button" class="btn" data-op="toggle">' +
      (c.is_active ? "停用" : "启用") + "</button></td></tr>";
  }

  function render() {
    var f = zhm.values(filters);
    var shown = all.filter(function (c) { return matches(c, f); });
    if (!shown.length) { tree.innerHTML = '<p class="muted">没有符合条件的类别</p>'; return; }
    var html = "";
    ["部件", "事件"].forEach(function (kind) {
      var ofKind = shown.filter(function (c) { return c.kind === kind; });
      if (!ofKind.length) return;
      html += "<h3>" + kind + "（" + ofKind.length + " 类）</h3>";
      var majors = {};
      ofKind.forEach(function (c) { (majors[c.major_code] = majors[c.major_code] || []).push(c); });
      Object.keys(majors).sort().forEach(function (code) {
        var items = majors[code];
        html += '<details class="major" open><summary>' + zh.esc(code + " " + items[0].major_name) +
          "（" + items.length + "）</summary>" +
          '<table class="grid"><thead><tr><th>编码</th><th>国标编码</th><th>小类及说明</th><th>处置时限</th><th>处置部门类型</th>' +
          "<th>需拍照</th><th>涉及店铺</th><th>状态</th><th>操作</th></tr></thead><tbody>" +
          items.map(row).join("") + "</tbody></table></details>";
      });
    });
    tree.innerHTML = html;
  }

  function datalists(departments) {
    var types = {};
    all.forEach(function (c) { types[c.department_type] = 1; });
    (function walk(nodes) {
      nodes.forEach(function (d) { d.handles.forEach(function (t) { types[t] = 1; }); walk(d.children); });
    })(departments || []);
    typeOptions(Object.keys(types));
    var majors = {};
    all.forEach(function (c) { majors[c.kind + c.major_code] = c; });
    $("category-majors").innerHTML = Object.keys(majors).sort().map(function (k) {
      var c = majors[k];
      return '<option value="' + c.major_code + '">' + zh.esc(c.kind + " " + c.major_name) + "</option>";
    }).join("");
  }

  /* The department types a category may be routed to (those departments handle, and those in
   * use), named in Chinese; the chosen one stays chosen. */
  function typeOptions(codes) {
    var select = form.elements.department_type, chosen = select.value;
    select.length = 1;  // keep 请选择
    zhm.typeCodes(codes).filter(function (t) { return codes.indexOf(t) >= 0; }).forEach(function (t) {
      select.add(new Option(zhm.typeLabel(t), t));
    });
    select.value = chosen;
  }

  function load() {
    return zh.api("GET", cfg.categories).then(function (items) {
      all = items;
      render();
      return zh.api("GET", cfg.departments).then(datalists, function () { datalists([]); });
    }, function (e) { tree.innerHTML = '<p class="error-text">' + zh.esc(e.message) + "</p>"; zhm.fail(e); });
  }

  /* -- the form dialog ------------------------------------------------------------------------ */

  function open(c) {
    editing = c;
    form.reset();
    zhm.clearErrors(form);
    $("category-create-fields").disabled = !!c;
    $("category-create-fields").hidden = !!c;
    $("category-fixed").hidden = !c;
    $("category-dialog-title").textContent = c ? "编辑类别：" + c.full_name : "新增类别";
    if (c) {
      if (c.department_type && !form.querySelector('#category-edit-department_type option[value="' +
                                                    c.department_type + '"]')) {
        form.elements.department_type.add(new Option(zhm.typeLabel(c.department_type), c.department_type));
      }
      $("category-fixed").textContent = "编码 " + c.code + "，" + c.full_name +
        (c.shop_related ? "，涉及店铺" : "") + "（编码和名称添加后不能修改）";
      zhm.fill(form, c);
    } else {
      zhm.fill(form, {time_unit: "hours", photo_required: true, is_active: true});
    }
    dialog.showModal();
  }

  form.elements.major_code.addEventListener("change", function () {
    var kind = form.elements.kind.value, code = form.elements.major_code.value;
    var known = all.filter(function (c) { return c.kind === kind && c.major_code === code; })[0];
    if (known && !form.elements.major_name.value) form.elements.major_name.value = known.major_name;
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(form)) return;
    var now = zhm.values(form), req;
    CLEARABLE.forEach(function (k) { if (now[k] === "") now[k] = null; });
    if (editing) {
      var keys = zhm.changed(zhm.pick(now, EDITABLE), editing);
      if (!keys.length) { zh.flash("没有需要保存的修改"); dialog.close(); return; }
      req = {method: "PATCH", url: cfg.categories + "/" + editing.id, body: zhm.pick(now, keys),
             ok: "类别已保存"};
    } else {
      req = {method: "POST", url: cfg.categories, body: now, ok: "类别已添加"};
    }
    zhm.send(Object.assign(req, {form: form})).then(function (data) {
      if (data) { dialog.close(); load(); }
    });
  });
  $("category-cancel").addEventListener("click", function () { dialog.close(); });
  $("category-new").addEventListener("click", function () { open(null); });

  tree.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-op]");
    if (!btn) return;
    var id = +btn.closest("tr").dataset.id;
    var c = all.filter(function (x) { return x.id === id; })[0];
    if (btn.dataset.op === "edit") { open(c); return; }
    zhm.send({method: "PATCH", url: cfg.categories + "/" + id, body: {is_active: !c.is_active},
              button: btn, ok: c.is_active ? "类别已停用" : "类别已启用"})
      .then(function (data) { if (data) load(); });
  });

  filters.addEventListener("submit", function (ev) { ev.preventDefault(); render(); });
  filters.addEventListener("input", render);
  filters.addEventListener("reset", function () { setTimeout(render, 0); });
  load();
})();
