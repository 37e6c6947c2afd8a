/* 附近便民设施 (/nearby/<kind>): locate the citizen (browsers report WGS-84), ask
 * GET /api/v1/nearby and list the nearest, with the answer's notice (#nearby-notice) when the
 * citizen is far from every facility or outside the city; "只看正在开放的" asks again.
 * The page's data: #nearby-list-config (empty: the text when nothing is near; locate: false when
 * the server already rendered the list for a position in the address). */
(function () {
  var list = document.getElementById("list"), where = document.getElementById("where");
  var notice = document.getElementById("nearby-notice");
  var openOnly = document.getElementById("open-now"), last = null;
  var config = JSON.parse(document.getElementById("nearby-list-config").textContent);
  var empty = config.empty;
  function text(el, sel, value) { var n = el.querySelector(sel); if (n) n.textContent = value; }
  function distance(m) { return m < 1000 ? Math.round(m) + " 米" : (m / 1000).toFixed(1) + " 公里"; }
  function render(items) {
    list.innerHTML = "";
    if (!items.length) {
      var p = document.createElement("p");
      p.className = "h5-empty"; p.textContent = empty;
      list.appendChild(p);
      return;
    }
    var tpl = document.getElementById("item-template");
    items.forEach(function (f) {
      var node = tpl.content.firstElementChild.cloneNode(true);
      text(node, "h3", f.name);
      text(node, ".dist", distance(f.distance_m));
      text(node, ".addr", f.address || "");
      text(node, ".hours", f.hours_label);
      var tag = node.querySelector(".open");
      tag.textContent = f.open_now === true ? "开放中" : f.open_now === false ? "已关闭" : "开放状态未知";
      tag.className = "h5-tag open " + (f.open_now === true ? "ok" : f.open_now === false ? "danger" : "muted");
      text(node, ".fee", f.fee || "");
      text(node, ".spaces", f.free_spaces != null ? "空余车位 " + f.free_spaces : "");
      node.querySelector("a.nav").href = f.nav_url;
      list.appendChild(node);
    });
  }
  function load(pos) {
    last = pos;
    var q = zh.qs({kind: list.dataset.kind, coord_sys: "wgs84", limit: 20, lat: pos.lat, lng: pos.lng,
                   open_now: openOnly.checked ? "true" : ""});
    where.textContent = "正在查找……";
    zh.api("GET", list.dataset.api + q).then(function (body) {
      // Far from every facility or outside the city: the answer says so (and, from outside
      // with nothing near, lists what is nearest the city centre).
      where.textContent = body.from_centre ? "已按距市中心的距离排序（直线距离）" : "已按您的当前位置排序（直线距离）";
      notice.hidden = !body.message;
      notice.textContent = body.message || "";
      render(body.items);
    }, function (err) {
      where.textContent = err.message || "网络不太好，请稍后再试";
    });
  }
  openOnly.addEventListener("change", function () { if (last) load(last); });
  if (!config.locate) return;  // the server rendered the list for the position in the address
  if (!navigator.geolocation) { where.textContent = "您的浏览器不支持定位，请在微信中打开"; return; }
  navigator.geolocation.getCurrentPosition(function (p) {
    load({lat: p.coords.latitude, lng: p.coords.longitude});  // browsers report WGS-84
  }, function () { where.textContent = "无法获取您的位置，请允许定位后重试"; },
  {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
})();
