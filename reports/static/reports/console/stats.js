/* 统计分析: GET /api/v1/stats/cases twice (by the chosen group, and by day or month for the trend),
 * the indicator cards, two ECharts charts, a table of groups, and a Leaflet map with the case and
 * shop heat layers (GeoJSON squares, drawn by zhMap.grid). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("stats-config").textContent);
  var f = cfg.filters, names = cfg.names;
  var TABLE_KEYS = ["accepted", "registered", "dispatch_rate", "closed", "closure_rate", "on_time_rate", "overdue_open"];
  var RATE = /_rate$/;

  function fmt(key, value) {
    if (value == null) return "—";
    return RATE.test(key) ? value.toFixed(2) + "%" : String(value);
  }

  function query(groupBy) {
    return zh.qs({from: f.from, to: f.to, group_by: groupBy, department_id: f.department_id,
                  district: f.district, category: f.category});
  }

  function chart(id) {
    var el = document.getElementById(id);
    if (!window.echarts || !el) return null;
    var c = echarts.init(el);
    window.addEventListener("resize", function () { c.resize(); });
    return c;
  }
  var ratesChart = chart("chart-rates"), trendChart = chart("chart-trend");

  function showTotals(data) {
    document.querySelectorAll("#kpis .v").forEach(function (el) {
      el.textContent = fmt(el.dataset.key, data.totals[el.dataset.key]);
    });
    document.getElementById("stats-period").textContent =
      data.period.from + " 至 " + data.period.to + "（截至 " + zh.time(data.as_of) + "）";
  }

  function showGroups(groups) {
    var rows = document.getElementById("group-rows");
    rows.innerHTML = groups.length ? groups.map(function (g) {
      return "<tr><td>" + zh.esc(g.label) + "</td>" + TABLE_KEYS.map(function (k) {
        return "<td>" + zh.esc(fmt(k, g[k])) + "</td>";
      }).join("") + "</tr>";
    }).join("") : '<tr><td colspan="8" class="muted">统计期内没有数据</td></tr>';
    if (!ratesChart) return;
    ratesChart.setOption({
      tooltip: {trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; }},
      legend: {top: 0, data: [names.closure_rate, names.on_time_rate]},
      grid: {left: 48, right: 16, top: 36, bottom: 80},
      xAxis: {type: "category", data: groups.map(function (g) { return g.label; }), axisLabel: {rotate: 30, interval: 0}},
      yAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%"}},
      series: [
        {name: names.closure_rate, type: "bar", data: groups.map(function (g) { return g.closure_rate; })},
        {name: names.on_time_rate, type: "bar", data: groups.map(function (g) { return g.on_time_rate; })}
      ]
    }, true);
  }

  function showTrend(groups) {
    if (!trendChart) return;
    var keys = ["accepted", "registered", "closed", "overdue_open"];
    trendChart.setOption({
      tooltip: {trigger: "axis"},
      legend: {top: 0, data: keys.map(function (k) { return names[k]; })},
      grid: {left: 48, right: 16, top: 36, bottom: 32},
      xAxis: {type: "category", data: groups.map(function (g) { return g.label; })},
      yAxis: {type: "value", minInterval: 1},
      series: keys.map(function (k) {
        return {name: names[k], type: "line", smooth: true, data: groups.map(function (g) { return g[k]; })};
      })
    }, true);
  }

  /* A refused filter, named as the filter form names it (never the API's field key). */
  function fieldName(key) {
    var c = document.querySelector('#stats-filters [name="' + key + '"]');
    var label = c && c.closest("label");
    return label && label.firstChild ? label.firstChild.textContent.trim() : "";
  }
  function fail(e) {
    var fields = e.fields || {};
    var text = Object.keys(fields).map(function (k) {
      var v = fields[k], name = fieldName(k);
      return (name ? name + "：" : "") + (Array.isArray(v) ? v.join("；") : String(v));
    }).join("；");
    zh.flash(e.message + (text ? "（" + text + "）" : ""), true);
  }

  zh.api("GET", "/api/v1/stats/cases" + query(f.group_by)).then(function (data) {
    showTotals(data);
    showGroups(data.groups || []);
  }).catch(fail);
  zh.api("GET", "/api/v1/stats/cases" + query(f.trend)).then(function (data) {
    showTrend(data.groups || []);
  }).catch(fail);

  /* ---- heat map ---- */
  if (!window.L || !window.zhMap) return;
  var map = zhMap.base("heatmap", cfg);
  map.createPane("shop-cells").style.zIndex = 410;  /* cases draw over the dense shop layer */
  map.createPane("case-cells").style.zIndex = 420;
  function cell() { return document.getElementById("heat-cell").value; }
  function summary(id) { return function (text) { document.getElementById(id).textContent = text; }; }
  var cases = zhMap.grid({url: cfg.heatmaps.cases, unit: "件案件", palette: "cool", summary: summary("cases-summary"),
    pane: "case-cells", outline: true,
    params: function () {
      return {from: f.from, to: f.to, department_id: f.department_id, category: f.category, district: f.district, cell: cell()};
    }});
  var shops = zhMap.grid({url: cfg.heatmaps.shops, unit: "家店铺", palette: "warm", summary: summary("shops-summary"),
    pane: "shop-cells",
    params: function () { return {district: f.district, cell: cell(), bbox: map.getBounds().toBBoxString()}; }});
  var layers = {"layer-cases": cases, "layer-shops": shops};

  function sync(id) {
    var box = document.getElementById(id), heat = layers[id];
    if (box.checked) { heat.layer.addTo(map); heat.load(); }
    else { map.removeLayer(heat.layer); summary(id === "layer-cases" ? "cases-summary" : "shops-summary")("未显示"); }
  }
  Object.keys(layers).forEach(function (id) {
    document.getElementById(id).addEventListener("change", function () { sync(id); });
  });
  document.getElementById("heat-cell").addEventListener("change", function () {
    Object.keys(layers).forEach(function (id) { if (document.getElementById(id).checked) layers[id].load(); });
  });
  var pending;
  map.on("moveend", function () {
    if (!document.getElementById("layer-shops").checked) return;
    clearTimeout(pending); pending = setTimeout(shops.load, 250);
  });
  zhMap.legend(map, "cool", "案件");
  zhMap.legend(map, "warm", "店铺");
  function start() { Object.keys(layers).forEach(sync); }
  zhMap.boundaries(map, cfg.heatmaps.boundaries, true).then(start, start);
})();
