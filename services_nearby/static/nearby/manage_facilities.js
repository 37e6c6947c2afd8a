/* 便民设施: search facilities; dispatchers and admins add, edit (PATCH with version), remove and
 * restore them. API: GET/POST /api/v1/staff/facilities, GET/PATCH .../<id>,
 * POST .../<id>/{remove,restore}. */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };

  function spaces(f) {
    if (f.capacity == null) return "—";
    return f.capacity + (f.free_spaces == null ? "" : " / 空 " + f.free_spaces);
  }

  function ops(f) {
    if (!cfg.canEdit) return "";
    var toggle = f.status === "active"
      ? '<button type="button" class="btn" data-op="remove">撤销</button>'
      : '<button type="button" class="btn" data-op="restore">恢复</button>';
    return '<td class="ops"><button type="button" class="btn" data-op="edit">编辑</button>' + toggle + "</td>";
  }

  function row(f) {
    return '<tr data-id="' + f.id + '" data-name="' + zh.esc(f.name) + '" data-version="' + f.version + '"' +
      (f.status === "active" ? "" : ' class="inactive"') + ">" +
      "<td>" + zh.esc(f.name) + "</td><td>" + zh.esc(f.kind_name) + "</td>" +
      "<td>" + zh.esc(f.district_name || "—") + "</td><td>" + zh.esc(f.address || "—") + "</td>" +
      "<td>" + zh.esc(f.hours_label) + "</td>" +
      "<td>" + zh.esc(f.fee || "—") + "</td><td>" + zhm.yesNo(f.accessible) + "</td>" +
      "<td>" + zh.esc(spaces(f)) + "</td>" +
      "<td>" + zhm.tag(f.status_label, f.status === "active" ? "ok" : "danger") + "</td>" + ops(f) + "</tr>";
  }

  var list = zhm.lister({url: cfg.facilities, form: $("facility-filters"), tbody: $("facility-rows"),
                         pager: $("facility-pager"), row: row});
  if (!cfg.canEdit) return;

  /* -- add / edit --------------------------------------------------------------------------- */

  var card = $("facility-form-card"), form = $("facility-form"), picker = null, editing = null;
  var FIELDS = ["kind", "name", "address", "opening_hours", "fee", "accessible", "capacity",
                "lat", "lng", "coord_sys"];

  function open(facility) {
    editing = facility;
    form.reset();
    zhm.clearErrors(form);
    $("facility-form-title").textContent = facility ? "编辑设施：" + facility.name : "新增设施";
    card.hidden = false;
    if (!picker) picker = zhm.picker($("facility-edit-map"), form);
    picker.refresh();
    picker.clear();
    if (facility) {
      var kind = form.elements.kind;
      if (!kind.querySelector('option[value="' + facility.kind + '"]')) {
        kind.add(new Option(facility.kind_name + "（已停用）", facility.kind));
      }
      // The hours as people write them (周一至周五 08:30-17:00 ...), not the stored OSM form: the
      // server reads either, and an unchanged field is not sent.
      zhm.fill(form, Object.assign({}, facility, {coord_sys: "gcj02",
        opening_hours: facility.opening_hours ? facility.hours_label : ""}));
      editing.form = zhm.values(form);
      picker.show();
    }
    card.scrollIntoView({behavior: "smooth"});
    form.elements.name.focus();
  }

  function close() { card.hidden = true; editing = null; }

  $("facility-new").addEventListener("click", function () { open(null); });
  $("facility-cancel").addEventListener("click", close);

  function editBody(now) {
    var keys = zhm.changed(zhm.pick(now, FIELDS), editing.form);
    var moved = keys.some(function (k) { return k === "lat" || k === "lng" || k === "coord_sys"; });
    keys = keys.filter(function (k) { return k !== "lat" && k !== "lng" && k !== "coord_sys"; });
    if (moved) keys.push("lat", "lng", "coord_sys");
    if (!keys.length) return null;
    return Object.assign(zhm.pick(now, keys), {version: editing.version});
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(form)) return;
    var now = zhm.values(form);
    var req;
    if (editing) {
      var body = editBody(now);
      if (!body) { zh.flash("没有需要保存的修改"); return; }
      req = {method: "PATCH", url: cfg.facilities + "/" + editing.id, body: body, ok: "设施信息已保存"};
    } else {
      req = {method: "POST", url: cfg.facilities, body: zhm.compact(zhm.pick(now, FIELDS)),
             ok: "设施已添加，市民现在即可查到"};
    }
    zhm.send(Object.assign(req, {form: form})).then(function (data) {
      if (data) { close(); list.reload(); }
    });
  });

  /* -- row actions ---------------------------------------------------------------------------- */

  $("facility-rows").addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-op]");
    if (!btn) return;
    var tr = btn.closest("tr"), id = tr.dataset.id, op = btn.dataset.op;
    if (op === "edit") {
      btn.disabled = true;
      zh.api("GET", cfg.facilities + "/" + id).then(function (f) { btn.disabled = false; open(f); },
        function (e) { btn.disabled = false; zhm.fail(e); });
      return;
    }
    var title = (op === "remove" ? "撤销设施：" : "恢复设施：") + tr.dataset.name;
    zhm.ask(title, {okText: op === "remove" ? "撤销" : "恢复"}).then(function (reason) {
      if (reason === null) return;
      zhm.send({method: "POST", url: cfg.facilities + "/" + id + "/" + op, button: btn,
                body: {reason: reason, version: parseInt(tr.dataset.version, 10)},
                ok: op === "remove" ? "设施已撤销，市民将不再看到它" : "设施已恢复"})
        .then(function (data) { if (data) list.reload(); });
    });
  });
})();
