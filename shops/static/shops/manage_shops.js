/* 店铺管理: search the shop registry, register a shop, and (admins) maintain the industries.
 * API: GET/POST /api/v1/staff/shops, GET/POST /api/v1/staff/shops/industries,
 *      PATCH /api/v1/staff/shops/industries/<id> (admin). */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var STATUS_TAG = {active: "ok", suspended: "warn", closed: "danger"};

  function shopRow(s) {
    return "<tr data-id=\"" + s.id + "\">" +
      '<td><a href="' + cfg.shopPage + s.id + '">' + zh.esc(s.name) + "</a></td>" +
      "<td>" + zh.esc(s.industry ? s.industry.name : "") + "</td>" +
      "<td>" + zh.esc(s.district_name || "—") + "</td>" +
      "<td>" + zh.esc(s.address) + "</td>" +
      "<td>" + zh.esc(s.owner_name) + "</td>" +
      "<td>" + zh.esc(s.owner_phone) + "</td>" +
      "<td>" + zhm.tag(s.status_label, STATUS_TAG[s.status]) + "</td>" +
      '<td class="ops"><a class="btn" href="' + cfg.shopPage + s.id + '">查看/编辑</a></td></tr>';
  }

  zhm.lister({url: cfg.shops, form: $("shop-filters"), tbody: $("shop-rows"),
                         pager: $("shop-pager"), row: shopRow});

  /* -- registration ------------------------------------------------------------------------ */

  var createCard = $("shop-create-card"), createForm = $("shop-create-form"), picker = null;

  $("shop-new").addEventListener("click", function () {
    createCard.hidden = false;
    if (!picker) picker = zhm.picker($("new-map"), createForm);
    picker.refresh();
    createForm.elements.name.focus();
  });
  $("shop-create-cancel").addEventListener("click", function () {
    createForm.reset();
    zhm.clearErrors(createForm);
    if (picker) picker.clear();
    createCard.hidden = true;
  });
  createForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(createForm)) return;
    var body = zhm.compact(zhm.values(createForm));
    zhm.send({method: "POST", url: cfg.shops, body: body, form: createForm,
              ok: "店铺已登记，并已生成二维码"}).then(function (shop) {
      if (!shop) return;
      createForm.reset();
      createCard.hidden = true;
      location.href = cfg.shopPage + shop.id;
    });
  });

  /* -- industries (admins) ----------------------------------------------------------------- */

  var industryRows = $("industry-rows");
  if (!industryRows) return;

  function industryRow(i) {
    return '<tr data-id="' + i.id + '"' + (i.is_active ? "" : ' class="inactive"') + ">" +
      "<td><code>" + zh.esc(i.code) + "</code></td>" +
      '<td><form class="industry-rename" data-id="' + i.id + '" novalidate>' +
      '<input name="name" required maxlength="32" aria-label="行业“' + zh.esc(i.name) + '”的名称" value="' +
      zh.esc(i.name) + '"> <button type="submit" class="btn">重命名</button></form></td>' +
      "<td>" + (i.is_active ? zhm.tag("启用", "ok") : zhm.tag("已停用")) + "</td>" +
      '<td class="ops"><button type="button" class="btn industry-toggle" data-id="' + i.id +
      '" data-active="' + (i.is_active ? "1" : "") + '">' + (i.is_active ? "停用" : "启用") +
      "</button></td></tr>";
  }

  function loadIndustries() {
    zhm.statusRow(industryRows, "加载中…");
    zh.api("GET", cfg.industries).then(function (items) {
      industryRows.innerHTML = items.map(industryRow).join("");
    }, zhm.fail);
  }

  industryRows.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form.industry-rename");
    if (!form) return;
    ev.preventDefault();
    if (!zhm.check(form)) return;
    zhm.send({method: "PATCH", url: cfg.industries + "/" + form.dataset.id, form: form,
              body: {name: form.elements.name.value.trim()}, ok: "行业名称已修改"});
  });
  industryRows.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button.industry-toggle");
    if (!btn) return;
    var activate = !btn.dataset.active;
    zhm.send({method: "PATCH", url: cfg.industries + "/" + btn.dataset.id, button: btn,
              body: {is_active: activate}, ok: activate ? "行业已启用" : "行业已停用"})
      .then(function (data) { if (data) loadIndustries(); });
  });

  var industryForm = $("industry-form");
  industryForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(industryForm)) return;
    zhm.send({method: "POST", url: cfg.industries, body: zhm.values(industryForm),
              form: industryForm, ok: "行业已添加"}).then(function (data) {
      if (!data) return;
      industryForm.reset();
      loadIndustries();
    });
  });
  loadIndustries();
})();
