/* 工作日历 (admin): a month view of public holidays and make-up working days; set or clear a day.
 * API: GET /api/v1/admin/calendar?year=Y, PUT/DELETE /api/v1/admin/calendar/<YYYY-MM-DD>. */
(function () {
  "use strict";
  var cfg = zhm.config;
  var $ = function (id) { return document.getElementById(id); };
  var WEEK = ["日", "一", "二", "三", "四", "五", "六"];
  var KINDS = {holiday: "节假日", workday: "调休上班"};
  var form = $("calendar-form"), grid = $("cal-days");
  var years = {};  // year -> {"YYYY-MM-DD": {day, kind, name}}
  var shown = new Date();
  shown.setDate(1);

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function iso(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }
  function parse(s) { var p = s.split("-"); return new Date(+p[0], +p[1] - 1, +p[2]); }

  function loadYear(year, force) {
    if (years[year] && !force) return Promise.resolve(years[year]);
    return zh.api("GET", cfg.calendar + zh.qs({year: year})).then(function (data) {
      var days = {};
      data.days.forEach(function (d) { days[d.day] = d; });
      years[year] = days;
      return days;
    });
  }

  function cell(d, entries, inMonth) {
    var key = iso(d), e = entries[key], wd = d.getDay();
    var cls = [inMonth ? "" : "out", wd === 0 || wd === 6 ? "weekend" : "", e ? e.kind : "",
               form.elements.day.value === key ? "selected" : ""].join(" ").trim();
    var label = e ? '<span class="tag ' + (e.kind === "holiday" ? "danger" : "ok") + '">' +
      zh.esc(e.name || KINDS[e.kind]) + "</span>" : "";
    return '<td data-day="' + key + '" class="' + cls + '"' + (inMonth ? ' tabindex="0"' : "") +
      ' aria-label="' + key + (e ? " " + KINDS[e.kind] + " " + zh.esc(e.name) : "") + '">' +
      '<span class="d">' + d.getDate() + "</span>" + label + "</td>";
  }

  function renderMonth(entries) {
    var y = shown.getFullYear(), m = shown.getMonth();
    $("cal-title").textContent = y + " 年 " + (m + 1) + " 月";
    $("cal-month").value = y + "-" + pad(m + 1);
    var start = new Date(y, m, 1 - ((new Date(y, m, 1).getDay() + 6) % 7));  // the Monday before
    var html = "";
    for (var w = 0; w < 6; w++) {
      html += "<tr>";
      for (var i = 0; i < 7; i++) {
        var d = new Date(start.getFullYear(), start.getMonth(), start.getDate() + w * 7 + i);
        html += cell(d, d.getFullYear() === y ? entries : (years[d.getFullYear()] || {}), d.getMonth() === m);
      }
      html += "</tr>";
    }
    grid.innerHTML = html;
  }

  function renderYear(year, entries) {
    $("cal-year").textContent = year + " 年";
    var keys = Object.keys(entries).sort();
    $("cal-rows").innerHTML = keys.map(function (k) {
      var e = entries[k];
      return '<tr data-day="' + k + '"><td>' + k + "</td><td>周" + WEEK[parse(k).getDay()] + "</td><td>" +
        zhm.tag(KINDS[e.kind], e.kind === "holiday" ? "danger" : "ok") + "</td><td>" + zh.esc(e.name) +
        '</td><td class="ops"><button type="button" class="btn link" data-op="pick">修改</button>' +
        '<button type="button" class="btn link" data-op="delete">删除</button></td></tr>';
    }).join("") || '<tr><td colspan="5" class="muted">本年还没有节假日或调休设置</td></tr>';
  }

  function refresh(force) {
    var year = shown.getFullYear();
    return loadYear(year, force).then(function (entries) {
      renderMonth(entries);
      renderYear(year, entries);
    }, zhm.fail);
  }

  function move(months) {
    shown = new Date(shown.getFullYear(), shown.getMonth() + months, 1);
    refresh(false);
  }

  function pick(key) {
    var entry = (years[key.slice(0, 4)] || {})[key];
    zhm.clearErrors(form);
    zhm.fill(form, {day: key, kind: entry ? entry.kind : (parse(key).getDay() % 6 === 0 ? "workday" : "holiday"),
                    name: entry ? entry.name : ""});
    $("cal-delete").disabled = !entry;
    $("cal-day-info").textContent = key + " 周" + WEEK[parse(key).getDay()] +
      (entry ? "，当前为" + KINDS[entry.kind] + (entry.name ? "（" + entry.name + "）" : "") : "，按周一至周五上班的规则");
    grid.querySelectorAll("td.selected").forEach(function (td) { td.classList.remove("selected"); });
    var td = grid.querySelector('td[data-day="' + key + '"]');
    if (td) td.classList.add("selected");
  }

  function afterWrite(key) {
    var d = parse(key);
    shown = new Date(d.getFullYear(), d.getMonth(), 1);
    return refresh(true).then(function () { pick(key); });
  }

  function remove(key, btn) {
    zhm.send({method: "DELETE", url: cfg.calendar + "/" + key, form: form, button: btn,
              ok: key + " 的设置已取消"}).then(function (data) { if (data) afterWrite(key); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!zhm.check(form)) return;
    var v = zhm.values(form);
    zhm.send({method: "PUT", url: cfg.calendar + "/" + v.day, form: form,
              body: {kind: v.kind, name: v.name}, ok: v.day + " 已设为" + KINDS[v.kind]})
      .then(function (data) { if (data) afterWrite(v.day); });
  });
  $("cal-delete").addEventListener("click", function (ev) {
    var key = form.elements.day.value;
    if (key) remove(key, ev.currentTarget);
  });
  form.elements.day.addEventListener("change", function () {
    var key = form.elements.day.value;
    if (!key) return;
    var d = parse(key);
    if (d.getFullYear() !== shown.getFullYear() || d.getMonth() !== shown.getMonth()) {
      shown = new Date(d.getFullYear(), d.getMonth(), 1);
      refresh(false).then(function () { pick(key); });
    } else { pick(key); }
  });

  grid.addEventListener("click", function (ev) {
    var td = ev.target.closest("td[data-day]");
    if (td && !td.classList.contains("out")) pick(td.dataset.day);
  });
  grid.addEventListener("keydown", function (ev) {
    var td = ev.target.closest("td[data-day]");
    if (td && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); pick(td.dataset.day); }
  });
  $("cal-rows").addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-op]");
    if (!btn) return;
    var key = btn.closest("tr").dataset.day;
    if (btn.dataset.op === "pick") pick(key); else remove(key, btn);
  });
  $("cal-prev").addEventListener("click", function () { move(-1); });
  $("cal-next").addEventListener("click", function () { move(1); });
  $("cal-today").addEventListener("click", function () { shown = new Date(); shown.setDate(1); refresh(false); });
  $("cal-month").addEventListener("change", function () {
    var v = $("cal-month").value;
    if (!v) return;
    shown = new Date(+v.slice(0, 4), +v.slice(5, 7) - 1, 1);
    refresh(false);
  });

  var start = new URLSearchParams(location.search).get("month");
  if (/^\d{4}-\d{2}$/.test(start || "")) shown = new Date(+start.slice(0, 4), +start.slice(5, 7) - 1, 1);
  $("cal-delete").disabled = true;
  refresh(false);
})();
