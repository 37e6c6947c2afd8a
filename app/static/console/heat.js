/* Map helpers of the staff pages (Leaflet, no build step): window.zhMap =
 *   base(el, cfg) -> L.Map: cfg {tileUrl, attribution, center, zoom}; tiles only when configured
 *   boundaries(map, url, fit) -> Promise: the district boundaries (GeoJSON lines), fit the view;
 *     without tiles also the streets with their names (app/static/geomap.js, loaded on demand)
 *   grid(opts) -> {layer, load()}: a heat layer of square cells from a GeoJSON endpoint whose
 *     features carry properties.count (GET /api/v1/shops/heatmap, /api/v1/stats/heatmap);
 *     when params().district changes to a district of the boundaries, the map zooms to it;
 *     opts {url, params() -> object, unit ("家店铺"), palette ("warm"|"cool"), summary(text),
 *           pane (a map pane: layers in higher panes draw on top), outline (stroke small cells)}
 *   legend(map, palette, title): the colour scale, bottom right
 */
(function () {
  "use strict";
  var PALETTES = {
    warm: function (t) { return "hsl(" + Math.round(55 - 55 * t) + ", 95%, " + Math.round(60 - 18 * t) + "%)"; },
    cool: function (t) { return "hsl(" + Math.round(200 + 80 * t) + ", 85%, " + Math.round(62 - 22 * t) + "%)"; }
  };


  function base(el, cfg) {
    var map = L.map(el, {preferCanvas: true, zoomControl: false})
      .setView(cfg.center || [41.80, 123.43], cfg.zoom || 11);
    L.control.zoom({zoomInTitle: "放大", zoomOutTitle: "缩小"}).addTo(map);  // not Leaflet's English
    map.attributionControl.setPrefix("Leaflet");
    if (cfg.tileUrl) zh.geo().then(function (g) { g.tiles(cfg.tileUrl, cfg.attribution, 18).addTo(map); });
    map.zhTiles = !!cfg.tileUrl;
    return map;
  }

  function boundaries(map, url, fit) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error("区县边界加载失败");
      return r.json();
    }).then(function (fc) {
      var layer = L.geoJSON(fc, {interactive: false, style: function (f) {
        var city = f.properties && f.properties.level === "city";
        return {color: city ? "#333" : "#1677ff", weight: city ? 2 : 1, fill: false};
      }}).addTo(map);
      if (fit && layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
      map.zhDistricts = {};
      layer.eachLayer(function (l) {
        var p = l.feature && l.feature.properties;
        if (p && p.level === "district" && p.adcode) map.zhDistricts[p.adcode] = l.getBounds();
      });
      if (!map.zhTiles) {  // no base map: the streets and their names say where a point is
        zh.geo().then(function (g) { return g.streets(map, url); }).catch(function () {});
      }
      return layer;
    });
  }

  function followDistrict(map, code, state) {
    if (!map || code === state.district) return;
    state.district = code;
    var box = code && map.zhDistricts && map.zhDistricts[code];
    if (box) map.fitBounds(box);
  }

  function summarise(fc, unit) {
    var props = fc.properties || {};
    var counts = fc.features.map(function (f) { return f.properties.count || 0; });
    var total = props.total != null ? props.total : counts.reduce(function (a, b) { return a + b; }, 0);
    var max = props.max != null ? props.max : Math.max.apply(null, counts.concat([0]));
    return {total: total, max: max, cells: props.cells != null ? props.cells : counts.length,
            text: "共 " + total + " " + unit + "，" + (props.cells != null ? props.cells : counts.length) +
                  " 个网格，单格最多 " + max + " " + unit};
  }

  function grid(opts) {
    var layer = L.layerGroup();
    var color = PALETTES[opts.palette || "warm"];
    var report = opts.summary || function () {};
    var seq = 0, shown = {district: undefined};
    function load() {
      var mine = ++seq;
      var query = new URLSearchParams();
      var params = opts.params();
      followDistrict(layer._map, params.district || "", shown);  // the layer's map, once added
      Object.keys(params).forEach(function (k) { if (params[k] !== "" && params[k] != null) query.set(k, params[k]); });
      report("加载中…");
      return fetch(opts.url + "?" + query.toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json().catch(function () { return {}; }); })
        .then(function (fc) {
          if (mine !== seq) return;
          if (!fc || !fc.features) {
            report((fc && fc.error && fc.error.message) || "加载失败");
            return;
          }
          var s = summarise(fc, opts.unit);
          var max = Math.max(s.max, 1);
          layer.clearLayers();
          L.geoJSON(fc, {pane: opts.pane || "overlayPane", style: function (f) {
            var t = Math.sqrt((f.properties.count || 0) / max);
            return {stroke: !!opts.outline, weight: 1, color: color(t), fillColor: color(t),
                    fillOpacity: 0.25 + 0.5 * t};
          }, onEachFeature: function (f, l) { l.bindTooltip(f.properties.count + " " + opts.unit); }}).addTo(layer);
          report(s.text);
        }, function () { if (mine === seq) report("网络异常，加载失败"); });
    }
    return {layer: layer, load: load};
  }

  function legend(map, palette, title) {
    var color = PALETTES[palette || "warm"];
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "legend");
      div.innerHTML = (title ? "<strong>" + zhEsc(title) + "</strong><br>" : "") + [0.1, 0.4, 0.7, 1].map(function (t) {
        return '<i style="background:' + color(Math.sqrt(t)) + '"></i>' + Math.round(t * 100) + "% 最高密度";
      }).join("<br>");
      return div;
    };
    control.addTo(map);
    return control;
  }

  function zhEsc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  window.zhMap = {base: base, boundaries: boundaries, grid: grid, legend: legend, palettes: PALETTES};
})();
