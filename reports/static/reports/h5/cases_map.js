/* 智慧城管 H5 身边案件 (/h5/cases/map): a map and a list of the public cases around the citizen (or
 * around the city centre when the position is not allowed), markers coloured by phase (处理中
 * orange, 已办结 green); dragging the map looks around its new centre. "我也遇到了" comes from
 * nearby_cases.js. Needs zh.js, h5.js, Leaflet and nearby_cases.js; settings in #cases-map-config. */
(function () {
  "use strict";
  var mapEl = document.getElementById("cases-map");
  var nearby = window.zhNearbyCases;
  if (!mapEl || !nearby) return;
  var config = JSON.parse(document.getElementById("cases-map-config").textContent);
  var statusEl = document.getElementById("cases-status");
  var listEl = document.getElementById("cases-list");
  var emptyEl = document.getElementById("cases-empty");
  var COLOURS = {open: "#fa9d3b", closed: "#07c160"};
  var DEVICE_RADIUS = 1000, MOVE_DELAY = 500;
  var map = null, markers = null, me = null, asked = 0, moveTimer = null;
  var last = null;  // {centre: L.LatLng, radius} of the last search: small moves do not search again
  var hasTiles = !!(config.map && config.map.tileUrl);

  function status(text) { statusEl.textContent = text; }

  function summary(answer, where) {
    var open = 0, closed = 0;
    answer.items.forEach(function (c) { if (c.phase === "open") open += 1; else closed += 1; });
    var around = where + " " + nearby.distance(answer.radius) + "内";
    if (!answer.items.length) return around + "暂无公开的问题";
    var more = answer.items.length >= 20 ? "（显示最近的 20 件）" : "";
    return around + "：处理中 " + open + " 件，近" + answer.closed_days + "天已办结 " + closed + " 件" + more;
  }

  function highlight(number) {
    Array.prototype.forEach.call(listEl.querySelectorAll(".zh-nc-item"), function (node) {
      node.classList.toggle("zh-nc-item_on", node.dataset.number === number);
    });
    var item = document.getElementById("case-" + number);
    if (item && item.scrollIntoView) item.scrollIntoView({block: "center", behavior: "smooth"});
  }

  function render(answer, params) {
    markers.clearLayers();
    answer.items.forEach(function (c) {
      var marker = L.circleMarker([c.lat, c.lng], {
        radius: 9, color: "#fff", weight: 2, fillColor: COLOURS[c.phase], fillOpacity: 1,
        className: "zh-case-marker zh-case-marker_" + c.phase
      });
      marker.bindTooltip(c.category + " · " + c.state_label);
      marker.on("click", function () { highlight(c.number); });
      marker.addTo(markers);
    });
    listEl.innerHTML = "";
    emptyEl.hidden = answer.items.length > 0;
    emptyEl.textContent = "附近暂无公开的问题。如发现问题，欢迎随手拍上报。";
    if (answer.items.length) nearby.renderList(listEl, answer.items, {params: params, url: config.nearbyUrl});
  }

  function showMe(origin) {
    if (me) me.setLatLng([origin.lat, origin.lng]);
    else me = L.circleMarker([origin.lat, origin.lng], {radius: 7, color: "#fff", weight: 2,
      fillColor: "#1677ff", fillOpacity: 1, className: "zh-case-me", interactive: false}).addTo(map);
  }

  // params: {lat, lng, coord_sys, radius}; where: how the summary names the place.
  function load(params, where, recentre) {
    var mine = ++asked;
    status("正在查找附近的问题……");
    nearby.load(params, config.nearbyUrl).then(function (answer) {
      if (mine !== asked) return;  // an older answer arriving late
      last = {centre: L.latLng(answer.origin.lat, answer.origin.lng), radius: answer.radius};
      if (recentre) {
        map.setView(last.centre, hasTiles ? 16 : 14);
        showMe(answer.origin);
        // The view may show more than the search covered: only the citizen's own move or zoom
        // (checked after MOVE_DELAY) searches again.
        last.radius = Math.max(answer.radius, visibleRadius());
      }
      render(answer, params);
      status(summary(answer, where));
    }, function (err) {
      if (mine !== asked) return;
      status(err.message || "网络不太好，请稍后再试");
    });
  }

  function visibleRadius() {
    var centre = map.getCenter(), corner = map.getBounds().getNorthEast();
    var r = Math.round(centre.distanceTo(corner));
    return Math.max(300, Math.min(config.maxRadius, r));
  }

  function onMoved() {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(function () {
      var c = map.getCenter(), radius = visibleRadius();
      if (last && c.distanceTo(last.centre) < last.radius / 4 && radius <= last.radius) return;
      load({lat: c.lat.toFixed(6), lng: c.lng.toFixed(6), coord_sys: "gcj02", radius: radius},
           "地图中心", false);
    }, MOVE_DELAY);
  }

  function fromCentre(why) {
    status(why);
    load({lat: config.centre[0], lng: config.centre[1], coord_sys: "gcj02", radius: config.maxRadius},
         "市中心", false);
  }

  // Where the citizen stands: at the start (else the city centre), and again on 定位到我的位置.
  function locateMe(first) {
    if (!navigator.geolocation) {
      if (first) fromCentre("当前浏览器不支持定位，显示市中心附近的问题");
      else status("当前浏览器不支持定位，可拖动地图查看其他区域");
      return;
    }
    if (!first) status("正在获取您的位置……");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var c = pos.coords;  // browsers report WGS-84; the answer comes back in GCJ-02
      load({lat: c.latitude.toFixed(6), lng: c.longitude.toFixed(6), coord_sys: "wgs84",
            radius: DEVICE_RADIUS}, "您附近", true);
    }, function () {
      if (first) fromCentre("未获取到您的位置，显示市中心附近的问题；拖动地图可查看其他区域");
      else status("未获取到您的位置，请允许定位后重试；拖动地图可查看其他区域");
    }, {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
  }

  function start() {
    if (!window.L) { status("地图加载失败，请刷新页面重试"); return; }
    map = h5.map(mapEl, config.centre, {locate: function () { locateMe(false); }});
    markers = L.layerGroup().addTo(map);
    map.on("moveend", onMoved);
    locateMe(true);
  }

  start();
})();
