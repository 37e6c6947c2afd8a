/* 区域管理 (admin): regions by level with their parent and responsible department; change the
 * department or the active flag; show a boundary; import a GeoJSON file.
 * API: GET /api/v1/admin/regions (the whole list, no polygons: paged here), GET/PATCH
 * /api/v1/admin/regions/<id>, POST /api/v1/admin/regions/import (multipart),
 * GET /api/v1/admin/departments. */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var PER_PAGE = 20;
  var filters = $("region-filters"), rows = $("region-rows");
  var dialog = $("region-dialog"), form = $("region-form"), importForm = $("region-import-form");
  var all = [], byId = {}, page = 1, editing = null, shape = null;
  var map = zhm.map($("region-map"));

  function matches(r, f) {
    if (f.level && r.level !== f.level) return false;
    if (f.active && String(r.is_active) !== f.active) return false;
    return !f.q || r.name.indexOf(f.q) >= 0 || r.code.indexOf(f.q) >= 0;
  }

  function row(r) {
    var parent = byId[r.parent_id];
    return '<tr data-id="' + r.id + '"' + (r.is_active ? "" : ' class="inactive"') + ">" +
      "<td>" + zh.esc(r.code) + "</td><td>" + zh.esc(r.name) + "</td>" +
      "<td>" + zh.esc(cfg.levels[r.level] || r.level) + "</td>" +
      "<td>" + zh.esc(parent ? parent.name : "—") + "</td>" +
      "<td>" + zh.esc(r.department ? r.department.name : "—") + "</td>" +
      "<td>" + (r.area_m2 / 1e6).toFixed(2) + "</td>" +
      "<td>" + (r.is_active ? zhm.tag("启用", "ok") : zhm.tag("已停用")) + "</td>" +
      '<td class="ops"><button type="button" class="btn" data-op="edit">编辑</button>' +
      '<button type="button" class="btn" data-op="shape">边界</button></td></tr>';
  }

  function render(p) {
    page = p || 1;
    var f = zhm.values(filters);
    history.replaceState(null, "", location.pathname + zh.qs(Object.assign({}, f, {page: page > 1 ? page : ""})));
    var shown = all.filter(function (r) { return matches(r, f); });
    var start = (page - 1) * PER_PAGE;
    if (shown.length) rows.innerHTML = shown.slice(start, start + PER_PAGE).map(row).join("");
    else zhm.statusRow(rows, "没有符合条件的区域");
    zh.pager($("region-pager"), page, PER_PAGE, shown.length, render);
  }

  function load() {
    zhm.statusRow(rows, "加载中…");
    return zh.api("GET", cfg.regions).then(function (items) {
      all = items; byId = {};
      items.forEach(function (r) { byId[r.id] = r; });
      render(page);
    }, function (e) { zhm.statusRow(rows, e.message, "error-text"); zhm.fail(e); });
  }

  function departments() {
    return zh.api("GET", cfg.departments).then(function (roots) {
      var select = form.elements.department_id;
      (function add(nodes, depth) {
        nodes.forEach(function (d) {
          select.add(new Option(new Array(depth + 1).join("　") + d.name +
            (d.is_active ? "" : "（已停用）"), d.id));
          add(d.children, depth + 1);
        });
      })(roots, 0);
    }, zhm.fail);
  }

  /* -- edit ------------------------------------------------------------------------------------ */

  function open(r) {
    editing = r;
    form.reset();
    zhm.clearErrors(form);
    $("region-dialog-title").textContent = "编辑区域：" + r.name;
    $("region-fixed").textContent = "编码 " + r.code + "，" + (cfg.levels[r.level] || r.level) +
      "（边界请通过导入 GeoJSON 更新）";
    zhm.fill(form, {name: r.name, department_id: r.department ? r.department.id : "",
                    is_active: r.is_active});
    editing.form = zhm.values(form);
    dialog.showModal();
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var now = zhm.values(form);
    var keys = zhm.changed(now, editing.form);
    if (!keys.length) { zh.flash("没有需要保存的修改"); dialog.close(); return; }
    zhm.send({method: "PATCH", url: cfg.regions + "/" + editing.id, body: zhm.pick(now, keys),
              form: form, ok: "区域已保存，新案件将按新设置派遣"}).then(function (data) {
      if (data) { dialog.close(); load(); }
    });
  });
  $("region-cancel").addEventListener("click", function () { dialog.close(); });

  function showShape(r, btn) {
    btn.disabled = true;
    zh.api("GET", cfg.regions + "/" + r.id).then(function (detail) {
      btn.disabled = false;
      if (shape) map.removeLayer(shape);
      // Stored as GeoJSON [lng, lat] in GCJ-02, the map's system.
      shape = L.geoJSON(detail.geometry, {style: {color: "#f5222d", weight: 2, fillOpacity: 0.1}}).addTo(map);
      map.fitBounds(shape.getBounds());
      $("region-map-title").textContent = detail.name + "（" + detail.code + "）";
    }, function (e) { btn.disabled = false; zhm.fail(e); });
  }

  rows.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-op]");
    if (!btn) return;
    var r = byId[btn.closest("tr").dataset.id];
    if (btn.dataset.op === "edit") open(r); else showShape(r, btn);
  });

  /* -- import ---------------------------------------------------------------------------------- */

  importForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("region-import-result").textContent = "";
    var file = importForm.elements.file;
    if (!zhm.check(importForm)) return;
    if (!file.files.length) {
      zhm.showErrors(importForm, {file: ["请选择要导入的 GeoJSON 文件"]});
      return;
    }
    var data = new FormData();
    data.append("file", file.files[0]);
    var values = zhm.compact(zhm.values(importForm));
    Object.keys(values).forEach(function (k) { data.append(k, values[k]); });
    $("region-import-result").textContent = "正在上传并检查文件…";
    zhm.send({method: "POST", url: cfg.importUrl, body: data, form: importForm}).then(function (res) {
      if (!res) { $("region-import-result").textContent = ""; return; }
      var text = "导入完成：新增 " + res.created.length + " 个，更新 " + res.updated.length + " 个。";
      if (res.created.length) text += " 新增：" + res.created.join("、");
      $("region-import-result").textContent = text;
      zh.flash("区域导入完成");
      load();
    });
  });

  filters.addEventListener("submit", function (ev) { ev.preventDefault(); render(1); });
  filters.addEventListener("reset", function () { setTimeout(function () { render(1); }, 0); });
  page = (function () {
    var params = new URLSearchParams(location.search);
    ["q", "level", "active"].forEach(function (k) { if (params.has(k)) filters.elements[k].value = params.get(k); });
    return parseInt(params.get("page"), 10) || 1;
  })();
  departments().then(load);
})();
