/* The map widget's geography (Leaflet, no build step), shared by the citizen pages (h5/h5.js,
 * the report form) and the staff maps (console/heat.js, console/manage.js): window.zhGeo =
 *   streets(map, boundariesUrl, district) -> Promise of the layer: without a tile server the
 *     street regions (GET boundaries?level=street[&district=]) are drawn with their names, the
 *     names from zoom LABEL_ZOOM on, so a map of empty grey still says where a point is
 *   tiles(url, attribution, maxZoom) -> L.TileLayer: MAP_TILE_URL, whose host may name a range
 *     of servers, "webrd0{1-4}.is.autonavi.com" (Amap) or "t{0-7}.tianditu.gov.cn"
 *   bounds(bbox) -> L.LatLngBounds of a [min_lat, min_lng, max_lat, max_lng] box (the locate
 *     answer's district and street, the map config's districts)
 *   focus(map, answer, hasTiles): zoom to a located point's street, else its district (no
 *     tiles: the lines are all there is to see), or close in on the point itself (tiles)
 *   named(text, names) -> the district names that occur in a typed address
 *   label(root): Chinese names (title and aria-label) on the Leaflet zoom buttons under root
 *     (a map's container, or the document): 放大, 缩小; Space presses them as it does a button.
 *     Done for every map on the page when this file loads (the staff pages load it after making
 *     their maps), and Leaflet's defaults are set so that later maps get the names themselves.
 * Scripts that may load before this one ask for it with zhGeoLoad() (see heat.js). */
(function () {
  "use strict";
  var LABEL_ZOOM = 13;
  var CSS = ".zh-street-label.leaflet-tooltip{background:rgba(255,255,255,.8);border:0;" +
    "box-shadow:none;color:#434343;font-size:11px;padding:0 3px;white-space:nowrap}" +
    ".zh-street-label.leaflet-tooltip:before{display:none}" +
    ".leaflet-container:not(.zh-geo-labelled) .zh-street-label{display:none}";

  function style() {
    if (document.getElementById("zh-geo-style")) return;
    var el = document.createElement("style");
    el.id = "zh-geo-style";
    el.textContent = CSS;
    document.head.appendChild(el);
  }

  function labels(map) {
    var box = map.getContainer();
    function toggle() { box.classList.toggle("zh-geo-labelled", map.getZoom() >= LABEL_ZOOM); }
    map.on("zoomend", toggle);
    toggle();
  }

  function streets(map, url, district) {
    style();
    var query = "level=street" + (district ? "&district=" + encodeURIComponent(district) : "");
    return fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + query, {credentials: "same-origin"})
      .then(function (r) {
        if (!r.ok) throw new Error("街道边界加载失败");
        return r.json();
      }).then(function (fc) {
        var layer = L.geoJSON(fc, {
          interactive: false,
          style: function () {
            return {color: "#597ef7", weight: 1, dashArray: "4 3", fillColor: "#597ef7", fillOpacity: 0.05};
          },
          onEachFeature: function (f, l) {
            if (f.properties && f.properties.name) {
              l.bindTooltip(f.properties.name, {permanent: true, direction: "center", className: "zh-street-label"});
            }
          }
        }).addTo(map);
        labels(map);
        return layer;
      });
  }

  // A tile template's host range, "webrd0{1-4}.is.autonavi.com" or "t{0-7}.tianditu.gov.cn",
  // is Leaflet's {s} with those subdomains (a plain {s} keeps Leaflet's a, b, c).
  function tiles(url, attribution, maxZoom) {
    var range = /\{(\d)-(\d)\}/.exec(url), options = {attribution: attribution || "", maxZoom: maxZoom || 18};
    if (range) {
      options.subdomains = "";
      for (var i = +range[1]; i <= +range[2]; i++) options.subdomains += i;
      url = url.replace(range[0], "{s}");
    }
    return L.tileLayer(url, options);
  }

  function bounds(bbox) {
    return L.latLngBounds([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
  }

  function focus(map, answer, hasTiles) {
    if (!answer || !answer.inside || !answer.point) return;
    var at = [answer.point.lat, answer.point.lng];
    var region = answer.street || answer.district;
    if (hasTiles || !region) { map.setView(at, Math.max(map.getZoom(), hasTiles ? 16 : 14)); return; }
    map.fitBounds(bounds(region.bbox), {padding: [8, 8]});
  }

  function named(text, names) {
    text = text || "";
    return (names || []).filter(function (n) { return n && text.indexOf(n) >= 0; });
  }

  var NAMES = {"leaflet-control-zoom-in": "放大", "leaflet-control-zoom-out": "缩小"};

  function pressOnSpace(e) {
    if (!e.defaultPrevented && (e.key === " " || e.key === "Spacebar")) {
      e.preventDefault();
      e.currentTarget.click();
    }
  }

  function label(root) {
    Object.keys(NAMES).forEach(function (cls) {
      Array.prototype.forEach.call((root || document).getElementsByClassName(cls), function (a) {
        a.title = NAMES[cls];
        a.setAttribute("aria-label", NAMES[cls]);
        if (!a.zhSpace) { a.zhSpace = true; a.addEventListener("keydown", pressOnSpace); }
      });
    });
  }

  if (window.L && L.Control && L.Control.Zoom) {
    L.Control.Zoom.mergeOptions({zoomInTitle: NAMES["leaflet-control-zoom-in"],
                                 zoomOutTitle: NAMES["leaflet-control-zoom-out"]});
    L.Map.addInitHook(function () { label(this.getContainer()); });
  }
  label(document);

  window.zhGeo = {streets: streets, tiles: tiles, bounds: bounds, focus: focus, named: named,
                  label: label, LABEL_ZOOM: LABEL_ZOOM};
})();
