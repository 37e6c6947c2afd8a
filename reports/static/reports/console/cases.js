/* 案件列表: reads the filters from the URL (the form is a plain GET form, so a link reproduces the
 * view), pages through GET /api/v1/staff/reports and keeps the page number in the URL too.
 * The API counts a list exactly up to limits.count_cap cases; a larger total (count_cap + 1)
 * reads "1万+": the pager then goes on while pages come back full. */
(function () {
  "use strict";
  var PER_PAGE = 20;
  var KEYS = ["state", "department_id", "category", "district", "channel", "from", "to", "overdue", "triage", "q"];
  var labels = JSON.parse(document.getElementById("case-labels").textContent);
  var limits = JSON.parse(document.getElementById("case-limits").textContent);
  var flashed = sessionStorage.getItem("zh-case-flash");  /* set by the case page (case.js) */
  if (flashed) { sessionStorage.removeItem("zh-case-flash"); zh.flash(flashed); }
  var rows = document.getElementById("case-rows");
  var summary = document.getElementById("summary");
  var pagerEl = document.getElementById("pager");

  function filters() {
    var params = new URLSearchParams(location.search), out = {};
    KEYS.forEach(function (k) { var v = (params.get(k) || "").trim(); if (v) out[k] = v; });
    return out;
  }

  function currentPage() {
    var p = parseInt(new URLSearchParams(location.search).get("page"), 10);
    return p > 0 ? p : 1;
  }

  function stateTag(item) {
    var kind = {closed: "ok", archived: "ok", reported: "warn", handled: "warn",
                rejected: "", voided: "", merged: ""}[item.state];
    return '<span class="tag ' + (kind || "") + '" data-state="' + zh.esc(item.state) + '">' + zh.esc(item.state_label) + "</span>";
  }

  function flags(item) {
    var out = [];
    if (item.urgent) out.push('<span class="tag danger urgent">紧急</span>');  /* a follow-up answer said so */
    if (item.attention) {  /* 被退回, 市民要求重新办理, 改派: with the reason given */
      out.push('<span class="tag warn" data-attention="' + zh.esc(item.attention) + '" title="' +
               zh.esc(item.attention_note || "") + '">' + zh.esc(item.attention_label) + "</span>");
      if (item.attention_note) out.push('<div class="muted attention-note">' + zh.esc(item.attention_note) + "</div>");
    }
    if (item.overdue) out.push('<span class="tag danger">已超期</span>');
    if (item.triage_reason) out.push('<span class="tag warn">' + zh.esc(labels.triage[item.triage_reason] || "待分拨") + "</span>");
    out.push('<span class="tag">' + zh.esc(labels.channels[item.channel] || item.channel) + "</span>");
    return out.join(" ");
  }

  function row(item) {
    var place = [item.address, labels.districts[item.district] || item.district].filter(Boolean).join(" / ");
    return '<tr data-number="' + zh.esc(item.number) + '"' + (item.overdue ? ' class="overdue"' : "") + ">" +
      '<td><a href="/console/cases/' + encodeURIComponent(item.number) + '">' + zh.esc(item.number) + "</a>" +
      '<div class="muted">' + zh.esc(item.description) + "</div></td>" +
      "<td>" + stateTag(item) + "</td>" +
      "<td>" + zh.esc(item.category || "未分类") + "</td>" +
      "<td>" + zh.esc(place) + "</td>" +
      "<td>" + zh.esc(item.department || "") + "</td>" +
      "<td>" + zh.esc(zh.time(item.created_at)) + "</td>" +
      "<td>" + zh.esc(zh.time(item.due_at)) + "</td>" +
      "<td>" + flags(item) + "</td></tr>";
  }

  /* A count as staff say it: 10000 -> "1万". */
  function amount(n) { return n >= 10000 && n % 10000 === 0 ? n / 10000 + "万" : String(n); }

  /* The total, "1万+" past the cap. */
  function totalText(total) {
    return total > limits.count_cap ? amount(limits.count_cap) + "+" : String(total);
  }

  /* Past the cap the number of pages is unknown: 下一页 while this page came back full. */
  function pager(data) {
    if (data.total <= limits.count_cap) {
      zh.pager(pagerEl, data.page, data.per_page, data.total, function (p) { load(p, true); });
      return;
    }
    pagerEl.innerHTML = "";
    var prev = document.createElement("button");
    prev.className = "btn"; prev.textContent = "上一页"; prev.disabled = data.page <= 1;
    prev.onclick = function () { load(data.page - 1, true); };
    var next = document.createElement("button");
    next.className = "btn"; next.textContent = "下一页"; next.disabled = data.items.length < data.per_page;
    next.onclick = function () { load(data.page + 1, true); };
    var info = document.createElement("span");
    info.className = "muted"; info.textContent = "第 " + data.page + " 页，共 " + totalText(data.total) + " 条";
    pagerEl.appendChild(prev); pagerEl.appendChild(info); pagerEl.appendChild(next);
  }

  function load(page, push) {
    var query = filters();
    query.page = page; query.per_page = PER_PAGE;
    if (push) {
      var shown = filters(); if (page > 1) shown.page = page;
      history.pushState({page: page}, "", location.pathname + zh.qs(shown));
    }
    summary.textContent = "加载中…";
    return zh.api("GET", "/api/v1/staff/reports" + zh.qs(query)).then(function (data) {
      rows.innerHTML = data.items.length ? data.items.map(row).join("")
        : '<tr><td colspan="8" class="muted">没有符合条件的案件</td></tr>';
      summary.textContent = "共 " + totalText(data.total) + " 件案件" +
        (data.total > limits.count_cap ? "（超过 " + amount(limits.count_cap) +
         " 件时不再精确计数，可用筛选条件缩小范围）" : "");
      pager(data);
    }).catch(function (e) { summary.textContent = "加载失败"; zh.fail(e); });
  }

  window.addEventListener("popstate", function () { load(currentPage(), false); });
  load(currentPage(), false);
})();
