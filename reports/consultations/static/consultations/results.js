/* 项目征询: a project's results as ECharts charts (vendored, no CDN) and its place on the map.
 *   [data-chart="trend"][data-phase]: responses per day of a phase (a line)
 *   [data-chart="question"][data-phase][data-key]: a choice question's counts per option, or a
 *     rating's counts per star (bars)
 *   #project-map: the project's point and area (GCJ-02) over the district boundaries */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("project-config").textContent);
  var phases = {};
  cfg.results.phases.forEach(function (p) { phases[p.kind] = p; });
  var charts = [];

  function chart(el, option) {
    var c = echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }

  function bars(labels, counts, horizontal) {
    var category = {type: "category", data: labels, axisLabel: {width: 160, overflow: "truncate"}};
    var value = {type: "value", minInterval: 1};
    return {
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      grid: {left: horizontal ? 170 : 40, right: 24, top: 16, bottom: 28},
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: [{name: "人数", type: "bar", data: counts, label: {show: true, position: horizontal ? "right" : "top"},
                itemStyle: {color: "#1677ff"}}]
    };
  }

  if (window.echarts) {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var phase = phases[el.dataset.phase];
      if (!phase) return;
      if (el.dataset.chart === "trend") {
        chart(el, {
          tooltip: {trigger: "axis"},
          grid: {left: 40, right: 24, top: 24, bottom: 28},
          xAxis: {type: "category", data: phase.by_day.map(function (d) { return d.day; })},
          yAxis: {type: "value", minInterval: 1},
          series: [{name: "参与人数", type: "bar", itemStyle: {color: "#69b1ff"},
                    data: phase.by_day.map(function (d) { return d.count; })}]
        });
        return;
      }
      var q = phase.questions.filter(function (x) { return x.key === el.dataset.key; })[0];
      if (!q) return;
      if (q.options) {
        chart(el, bars(q.options.map(function (o) { return o.label; }).reverse(),
                       q.options.map(function (o) { return o.count; }).reverse(), true));
      } else if (q.distribution) {
        chart(el, bars(q.distribution.map(function (d) { return d.stars + "星"; }),
                       q.distribution.map(function (d) { return d.count; }), false));
      }
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  var mapEl = document.getElementById("project-map");
  if (mapEl && window.zhMap) {
    var map = zhMap.base(mapEl, {tileUrl: cfg.map.tileUrl, attribution: cfg.map.attribution,
                                 center: [cfg.lat, cfg.lng], zoom: cfg.map.tileUrl ? 16 : 13});
    if (!cfg.map.tileUrl) zhMap.boundaries(map, cfg.map.boundaries, false).catch(function () {});
    if (cfg.area) {
      var area = L.geoJSON(cfg.area, {style: {color: "#07c160", weight: 2, fillOpacity: 0.15}}).addTo(map);
      if (cfg.map.tileUrl) map.fitBounds(area.getBounds(), {maxZoom: 17});
    }
    L.circleMarker([cfg.lat, cfg.lng], {radius: 8, color: "#fff", weight: 2, fillColor: "#f5222d", fillOpacity: 1})
      .bindTooltip("项目位置").addTo(map);
  }
})();
