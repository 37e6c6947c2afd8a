/* 店铺分布热力图: trading shops per square cell over the district boundaries (console/heat.js).
 * Config: <script type="application/json" id="heatmap-config"> {tileUrl, attribution, heatmap,
 * boundaries}. API: GET /api/v1/shops/heatmap?industry=&district=&cell=&bbox= (GeoJSON). */
(function () {
  var cfg = JSON.parse(document.getElementById("heatmap-config").textContent);
  var map = zhMap.base("map", cfg);
  function val(id) { return document.getElementById(id).value; }
  var summary = document.getElementById("summary");
  var shops = zhMap.grid({url: cfg.heatmap, unit: "家店铺", palette: "warm",
    params: function () {
      return {industry: val("industry"), district: val("district"), cell: val("cell"),
              bbox: map.getBounds().toBBoxString()};
    },
    summary: function (text) { summary.textContent = text.indexOf("共") === 0 ? "当前范围" + text : text; }});
  shops.layer.addTo(map);
  zhMap.boundaries(map, cfg.boundaries, true).then(shops.load, shops.load);
  var pending;
  map.on("moveend", function () { clearTimeout(pending); pending = setTimeout(shops.load, 250); });
  ["industry", "district", "cell"].forEach(function (id) { document.getElementById(id).onchange = shops.load; });
  zhMap.legend(map, "warm");
})();
