/* 类别管理 (admin): the 部件/事件 category tree; add a category, change its time limit, department
 * type, photo rule, active flag, GB/T 30428.2 code, definition (the help text citizens see) and
 * follow-up questions (追问, reports/questions.py: at most 5; yes/no, choice or text; answers that
 * make a case urgent). API: GET/POST /api/v1/admin/categories, PATCH /api/v1/admin/categories/<id>,
 * GET /api/v1/admin/departments (handled types). */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var filters = $("category-filters"), tree = $("category-tree");
  var dialog = $("category-dialog"), form = $("category-form");
  var EDITABLE = ["time_limit", "time_unit", "department_type", "photo_required", "is_active",
                  "gb_code", "definition", "questions"];
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
      questionsTag(c.questions) +
      (c.definition ? '<br><span class="muted">' + zh.esc(c.definition) + "</span>" : "") + "</td>" +
      "<td>" + zh.esc(c.time_limit_label) + "</td><td>" + zh.esc(zhm.typeLabel(c.department_type)) + "</td>" +
      "<td>" + zhm.yesNo(c.photo_required) + "</td><td>" + zhm.yesNo(c.shop_related) + "</td>" +
      "<td>" + (c.is_active ? zhm.tag("启用", "ok") : zhm.tag("已停用")) + "</td>" +
      '<td class="ops"><button type="button" class="btn" data-op="edit">编辑</button>' +
      '<button type="button" class="btn" data-op="toggle">' +
      (c.is_active ? "停用" : "启用") + "</button></td></tr>";
  }

  /* "追问 N" next to the name, the questions themselves on hover. */
  function questionsTag(questions) {
    if (!questions || !questions.length) return "";
    var labels = questions.map(function (q, i) { return (i + 1) + ". " + q.label; }).join("\n");
    return ' <span class="tag questions-count" title="' + zh.esc(labels) + '">追问 ' +
      questions.length + "</span>";
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

  /* -- follow-up questions (追问) ------------------------------------------------------------- */

  /* One <li> a question: 问题, 题型, 选项 (单选), 必答, 紧急条件 (the answers that make the case
   * urgent), moved and removed by its buttons. Keys are no word admins read or type: a row keeps
   * its question's key; a new row gets q1, q2 ... unused by this category. */
  var MAX_QUESTIONS = 5;
  var KINDS = [["yes_no", "是/否"], ["choice", "单选"], ["text", "填空"]];
  var YES_NO = ["是", "否"];
  var qRows = $("category-question-rows"), qAdd = $("category-question-add");
  var qError = $("category-questions-error");
  var rowSeq = 0, keysBefore = [];

  function splitOptions(text) {
    return String(text || "").split(/[、，,]/).map(function (o) { return o.trim(); })
      .filter(Boolean);
  }

  /* A question as the server keeps it (check_questions), so what was read and what is in the
   * form compare: urgent answers in the answers' order, options only for 单选. */
  function canon(q) {
    var out = {key: q.key, label: String(q.label || "").trim(), kind: q.kind, required: !!q.required};
    var answers = q.kind === "yes_no" ? YES_NO : [];
    if (q.kind === "choice") { out.options = (q.options || []).slice(); answers = out.options; }
    var urgent = answers.filter(function (a) { return (q.urgent_if || []).indexOf(a) >= 0; });
    if (urgent.length) out.urgent_if = urgent;
    return out;
  }

  function part(li, name) { return li.querySelector('[data-q="' + name + '"]'); }
  function qItems() { return Array.prototype.slice.call(qRows.children); }

  function answersOf(li) {
    var kind = part(li, "kind").value;
    return kind === "yes_no" ? YES_NO : kind === "choice" ? splitOptions(part(li, "options").value) : [];
  }

  function urgentChecked(li) {
    return Array.prototype.filter.call(part(li, "urgent").querySelectorAll("input"), function (c) {
      return c.checked;
    }).map(function (c) { return c.value; });
  }

  /* The urgent-answer checkboxes for the row's kind and options, keeping what stays possible. */
  function showUrgent(li, checked) {
    var kind = part(li, "kind").value, answers = answersOf(li);
    li.querySelector('[data-only="choice"]').hidden = kind !== "choice";
    li.querySelector('[data-only="urgent"]').hidden = kind === "text";
    part(li, "urgent").innerHTML = answers.length ? answers.map(function (a) {
      return '<label><input type="checkbox" value="' + zh.esc(a) + '"' +
        (checked.indexOf(a) >= 0 ? " checked" : "") + "> " + zh.esc(a) + "</label>";
    }).join("") : '<span class="muted small">先填写选项</span>';
  }

  function newKey() {
    var used = keysBefore.concat(qItems().map(function (li) { return li.dataset.key; }));
    for (var n = 1; ; n++) { if (used.indexOf("q" + n) < 0) return "q" + n; }
  }

  function addQuestion(q) {
    var id = "category-q" + (++rowSeq) + "-";
    var li = document.createElement("li");
    li.className = "question";
    li.dataset.key = q.key;
    li.innerHTML =
      '<div class="question-head"><strong class="question-no"></strong><span class="question-ops">' +
      '<button type="button" class="btn" data-move="-1">上移</button>' +
      '<button type="button" class="btn" data-move="1">下移</button>' +
      '<button type="button" class="btn" data-remove="1">删除</button></span></div>' +
      '<div class="form-grid">' +
      '<div class="form-row wide"><label for="' + id + 'label">问题<span class="req" aria-hidden="true">*</span></label>' +
      '<input id="' + id + 'label" data-q="label" maxlength="60" required placeholder="如 井盖是否缺失或被移开？"></div>' +
      '<div class="form-row"><label for="' + id + 'kind">题型</label><select id="' + id + 'kind" data-q="kind">' +
      KINDS.map(function (k) { return '<option value="' + k[0] + '">' + k[1] + "</option>"; }).join("") +
      "</select></div>" +
      '<div class="form-row check"><label><input type="checkbox" id="' + id + 'required" data-q="required"> 必答</label></div>' +
      '<div class="form-row wide" data-only="choice"><label for="' + id + 'options">选项</label>' +
      '<input id="' + id + 'options" data-q="options" maxlength="200"' +
      ' placeholder="2至8项，每项不超过20个字，用顿号或逗号分隔，如 机动车道、人行道"></div>' +
      '<fieldset class="form-row wide" data-only="urgent"><legend>紧急条件（选中这些答案时案件标为紧急）</legend>' +
      '<div class="type-picks" data-q="urgent"></div></fieldset></div>';
    part(li, "label").value = q.label || "";
    part(li, "kind").value = q.kind || "yes_no";
    part(li, "required").checked = !!q.required;
    part(li, "options").value = (q.options || []).join("、");
    qRows.appendChild(li);
    showUrgent(li, q.urgent_if || []);
    renumber();
    return li;
  }

  /* Row titles, the move buttons at the ends, 添加追问 at the limit. */
  function renumber() {
    var items = qItems();
    items.forEach(function (li, i) {
      var name = "第" + (i + 1) + "个追问";
      li.querySelector(".question-no").textContent = name;
      li.setAttribute("aria-label", name);
      var up = li.querySelector('[data-move="-1"]'), down = li.querySelector('[data-move="1"]');
      up.disabled = i === 0;
      down.disabled = i === items.length - 1;
      up.setAttribute("aria-label", "上移" + name);
      down.setAttribute("aria-label", "下移" + name);
      li.querySelector("[data-remove]").setAttribute("aria-label", "删除" + name);
    });
    qAdd.disabled = items.length >= MAX_QUESTIONS;
    $("category-questions-full").hidden = items.length < MAX_QUESTIONS;
    $("category-questions-none").hidden = items.length > 0;
  }

  function showQuestions(list) {
    qRows.innerHTML = "";
    keysBefore = (list || []).map(function (q) { return q.key; });
    (list || []).forEach(addQuestion);
    renumber();
  }

  function readQuestions() {
    return qItems().map(function (li) {
      var kind = part(li, "kind").value;
      return canon({key: li.dataset.key, label: part(li, "label").value, kind: kind,
                    required: part(li, "required").checked,
                    options: splitOptions(part(li, "options").value), urgent_if: urgentChecked(li)});
    });
  }

  /* The server names the question it refuses ("第2个追问：..."): mark that row. */
  function markRefused() {
    var m = /第(\d+)个追问/.exec(qError.textContent);
    var li = m && qRows.children[+m[1] - 1];
    if (!li) return;
    li.classList.add("invalid");
    var text = qError.textContent;
    var target = /选项/.test(text) && part(li, "kind").value === "choice" ? part(li, "options")
      : /紧急/.test(text) ? part(li, "urgent").querySelector("input") || part(li, "kind")
      : /题型/.test(text) ? part(li, "kind") : part(li, "label");
    target.setAttribute("aria-invalid", "true");
    target.setAttribute("aria-describedby", qError.id);
    target.focus();
  }

  function clearRefused() {
    qItems().forEach(function (li) { li.classList.remove("invalid"); });
  }

  qAdd.addEventListener("click", function () {
    if (qItems().length >= MAX_QUESTIONS) return;
    var li = addQuestion({key: newKey(), kind: "yes_no"});
    part(li, "label").focus();
  });

  qRows.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button");
    if (!btn) return;
    var li = btn.closest("li.question");
    if (btn.dataset.remove) {
      var next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      renumber();
      (next ? next.querySelector("[data-remove]") : qAdd).focus();
      return;
    }
    var other = btn.dataset.move === "-1" ? li.previousElementSibling : li.nextElementSibling;
    if (!other) return;
    qRows.insertBefore(li, btn.dataset.move === "-1" ? other : other.nextElementSibling);
    renumber();
    btn.focus();
  });

  qRows.addEventListener("change", function (ev) {
    if (ev.target.dataset.q === "kind") {
      var li = ev.target.closest("li.question");
      showUrgent(li, urgentChecked(li));
    }
  });
  qRows.addEventListener("input", function (ev) {
    if (ev.target.dataset.q === "options") {
      var li = ev.target.closest("li.question");
      showUrgent(li, urgentChecked(li));
    }
  });

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
    showQuestions(c ? c.questions : []);
    dialog.showModal();
  }

  form.elements.major_code.addEventListener("change", function () {
    var kind = form.elements.kind.value, code = form.elements.major_code.value;
    var known = all.filter(function (c) { return c.kind === kind && c.major_code === code; })[0];
    if (known && !form.elements.major_name.value) form.elements.major_name.value = known.major_name;
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearRefused();
    if (!zhm.check(form)) return;
    var now = zhm.values(form), req;
    CLEARABLE.forEach(function (k) { if (now[k] === "") now[k] = null; });
    now.questions = readQuestions();  // [] clears them
    if (editing) {
      var before = Object.assign({}, editing, {questions: (editing.questions || []).map(canon)});
      var keys = zhm.changed(zhm.pick(now, EDITABLE), before);
      if (!keys.length) { zh.flash("没有需要保存的修改"); dialog.close(); return; }
      req = {method: "PATCH", url: cfg.categories + "/" + editing.id, body: zhm.pick(now, keys),
             ok: "类别已保存"};
    } else {
      if (!now.questions.length) delete now.questions;
      req = {method: "POST", url: cfg.categories, body: now, ok: "类别已添加"};
    }
    zhm.send(Object.assign(req, {form: form})).then(function (data) {
      if (data) { dialog.close(); load(); } else { markRefused(); }
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
