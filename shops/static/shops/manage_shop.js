/* 店铺详情: edit one shop (PATCH with the version read), suspend/resume/close it with a reason,
 * show and download its plate QR code, reissue the code.
 * API: GET/PATCH /api/v1/staff/shops/<id>, POST .../<id>/{suspend,resume,close},
 *      GET .../<id>/qr.{png,svg}, POST .../<id>/codes/reissue. */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var STATUS_TAG = {active: "ok", suspended: "warn", closed: "danger"};
  var SOURCES = {"import": "批量导入", generated: "演示数据", staff: "工作人员登记"};
  var CODE_STATUS = {active: "使用中", revoked: "已作废"};
  var form = $("shop-form"), statusForm = $("status-form"), reissueForm = $("reissue-form");
  var picker = zhm.picker($("shop-map"), form);
  var original = null;
  var activeCode = null;  // the plate shown: a reissue replaces only it (409 if already replaced)

  /* -- 门前三包 duties ------------------------------------------------------------------------ */

  function addDuty(d) {
    var row = document.createElement("div");
    row.className = "duty";
    row.innerHTML = '<input name="duty_name" required maxlength="32" placeholder="责任名称，如 门前清洁" aria-label="责任名称">' +
      '<input name="duty_detail" maxlength="200" placeholder="具体要求" aria-label="具体要求">' +
      '<button type="button" class="btn link duty-remove">删除</button>';
    row.children[0].value = d ? d.name : "";
    row.children[1].value = d ? d.detail || "" : "";
    $("duty-rows").appendChild(row);
  }

  function duties() {
    return Array.prototype.map.call($("duty-rows").querySelectorAll(".duty"), function (row) {
      return {name: row.children[0].value.trim(), detail: row.children[1].value.trim()};
    });
  }

  $("duty-add").addEventListener("click", function () { addDuty(null); });
  $("duty-rows").addEventListener("click", function (ev) {
    if (ev.target.classList.contains("duty-remove")) ev.target.closest(".duty").remove();
  });

  /* -- showing the shop ---------------------------------------------------------------------- */

  function current() {
    var v = zhm.values(form);
    delete v.duty_name; delete v.duty_detail;
    v.duties = duties();
    return v;
  }

  function showFields(s) {
    var shown = Object.assign({}, s, {
      industry_name: s.industry ? s.industry.name : "", district_name: s.district_name || "—",
      source_label: SOURCES[s.source] || s.source, updated: zh.time(s.updated_at),
      business_hours: s.business_hours || "—"});
    document.querySelectorAll("#shop-fields [data-field]").forEach(function (dd) {
      dd.textContent = shown[dd.dataset.field] == null ? "" : shown[dd.dataset.field];
    });
    $("shop-status").innerHTML = zhm.tag(s.status_label, STATUS_TAG[s.status]);
    $("shop-title").textContent = s.name;
    document.title = s.name + " - 店铺详情 - 智慧城管";
  }

  function fillForm(s) {
    var select = form.elements.industry;
    if (s.industry && !select.querySelector('option[value="' + s.industry.code + '"]')) {
      select.add(new Option(s.industry.name + "（已停用）", s.industry.code));
    }
    zhm.fill(form, {name: s.name, industry: s.industry ? s.industry.code : "",
                    owner_name: s.owner_name, owner_phone: s.owner_phone,
                    business_hours: s.business_hours, address: s.address, lat: s.lat,
                    lng: s.lng, coord_sys: "gcj02", version: s.version});
    $("duty-rows").innerHTML = "";
    (s.duties || []).forEach(addDuty);
    zhm.clearErrors(form);
    original = current();
    picker.show();
  }

  function showStatusActions(s) {
    $("shop-suspend").hidden = s.status !== "active";
    $("shop-resume").hidden = s.status !== "suspended";
    $("shop-close").hidden = s.status === "closed";
  }

  function showCodes(s) {
    var active = (s.codes || []).filter(function (c) { return c.status === "active"; })[0];
    activeCode = active ? active.code : null;
    $("qr-code").textContent = active ? active.code : "暂无有效二维码";
    $("qr-img").hidden = !active;
    $("qr-png").hidden = $("qr-svg").hidden = !active;
    if (active) $("qr-img").src = cfg.qrPng + "?v=" + encodeURIComponent(active.code);
    $("code-rows").innerHTML = (s.codes || []).slice().reverse().map(function (c) {
      return "<tr><td>" + zh.esc(c.code) + "</td><td>" +
        zhm.tag(CODE_STATUS[c.status] || c.status, c.status === "active" ? "ok" : "") + "</td><td>" +
        zh.esc(zh.time(c.issued_at)) + "</td><td>" + zh.esc(c.revoke_reason || "") + "</td></tr>";
    }).join("") || '<tr><td colspan="4" class="muted">暂无编号</td></tr>';
  }

  function showReports(s) {
    $("report-rows").innerHTML = (s.recent_reports || []).map(function (r) {
      return "<tr><td>" + zh.esc(r.number) + "</td><td>" + zh.esc(r.category || "—") + "</td><td>" +
        zh.esc(cfg.stateLabels[r.state] || r.state) + "</td><td>" + zh.esc(zh.time(r.created_at)) +
        "</td></tr>";
    }).join("") || '<tr><td colspan="4" class="muted">暂无上报</td></tr>';
  }

  function load() {
    return zh.api("GET", cfg.shop).then(function (s) {
      $("shop-detail").hidden = false;
      picker.refresh();
      showFields(s); fillForm(s); showStatusActions(s); showCodes(s); showReports(s);
    }, function (e) {
      $("shop-missing").textContent = e.message;
      $("shop-missing").hidden = false;
      zhm.fail(e);
    });
  }

  /* -- writes ------------------------------------------------------------------------------- */

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(form)) return;
    var now = current();
    var keys = zhm.changed(now, original).filter(function (k) { return k !== "version"; });
    if (keys.some(function (k) { return k === "lat" || k === "lng" || k === "coord_sys"; })) {
      keys = keys.concat(["lat", "lng", "coord_sys"]);
    }
    keys = keys.filter(function (k, i) { return keys.indexOf(k) === i && k !== "coord_sys"; });
    if (!keys.length) { zh.flash("没有需要保存的修改"); return; }
    var body = zhm.pick(now, keys);
    if ("lat" in body) body.coord_sys = now.coord_sys;
    body.version = original.version;
    zhm.send({method: "PATCH", url: cfg.shop, body: body, form: form, ok: "店铺信息已保存"})
      .then(function (data) { if (data) load(); });
  });
  $("shop-revert").addEventListener("click", function () { load(); });

  var DONE = {suspend: "店铺已暂停营业", resume: "店铺已恢复营业", close: "店铺已关闭"};
  statusForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var action = ev.submitter && ev.submitter.value;
    if (!action || !zhm.check(statusForm)) return;
    zhm.send({method: "POST", url: cfg.shop + "/" + action, form: statusForm,
              body: {reason: statusForm.elements.reason.value.trim()}, ok: DONE[action]})
      .then(function (data) { if (data) { statusForm.reset(); load(); } });
  });

  reissueForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(reissueForm)) return;
    var body = {reason: reissueForm.elements.reason.value.trim()};
    if (activeCode) body.replaces = activeCode;
    zhm.send({method: "POST", url: cfg.reissue, form: reissueForm, body: body}).then(function (data) {
      if (!data) return;
      zh.flash("已生成新编号 " + data.code + "，旧二维码已作废，请重新打印店铺牌");
      reissueForm.reset();
      load();
    });
  });

  load();
})();
