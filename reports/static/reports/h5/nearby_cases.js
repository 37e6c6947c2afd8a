/* 智慧城管 H5 身边案件: public cases near a point, and "我也遇到了" (follow one instead of reporting it
 * again). Needs zh.js. Used by the public map (cases_map.js) and by the report form before filing:
 *
 *   zhNearbyCases.show(container, lat, lng, opts) -> Promise of the number of open cases shown.
 *     Renders "附近已有 N 件类似问题正在处理" with those cases and their follow buttons into
 *     `container` (hidden when there are none). opts (all optional): coordSys ("gcj02"; a
 *     browser's own position is "wgs84"), radius (metres, 300), url (the nearby API).
 *   zhNearbyCases.load(params, url)      -> Promise of the API's answer (GET /api/v1/reports/nearby)
 *   zhNearbyCases.renderList(el, items, query)  the cases as a list with follow buttons (taps
 *     handled); query {params, url} is the search that found them: a photo whose short-lived
 *     link expired gets a fresh one by asking it again (h5.freshPhotos)
 *   zhNearbyCases.distance(m)            "120 米" / "1.2 公里"
 *
 * A case's photo opens in h5.js's viewer, with the list's other photos.
 *
 * An anonymous visitor's tap on "我也遇到了" asks them to sign in first (and comes back here). */
(function () {
  "use strict";
  var NEARBY_URL = "/api/v1/reports/nearby";
  var FOLLOW_URL = "/api/v1/reports/NUMBER/follow";
  var STYLE = [
    ".zh-nc-head{padding:12px 16px 4px;font-size:15px;font-weight:600;color:#d46b08}",
    ".zh-nc-hint{padding:0 16px 8px;font-size:13px;color:#888}",
    ".zh-nc-item{align-items:flex-start;gap:12px}",
    ".zh-nc-item.zh-nc-item_on{background:#f3fbf6}",
    ".zh-nc-photo{flex:none;display:block;width:64px;height:64px;border-radius:4px;object-fit:cover;background:#f2f2f2}",
    ".zh-nc-photo-btn{flex:none;position:relative;display:block;width:64px;height:64px;padding:0;border:0;" +
      "border-radius:4px;background:#f2f2f2}",
    ".zh-nc-photo-btn:focus-visible{outline:2px solid #1677ff;outline-offset:2px}",
    ".zh-nc-photo_none{display:flex;align-items:center;justify-content:center;font-size:12px;color:#bbb}",
    ".zh-nc-body{flex:1;min-width:0}",
    ".zh-nc-title{display:flex;justify-content:space-between;gap:8px;align-items:center;margin:0 0 2px}",
    ".zh-nc-title strong{font-size:16px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    ".zh-nc-meta{margin:0;font-size:13px;color:#888;line-height:1.5}",
    ".zh-nc-foot{display:flex;justify-content:space-between;align-items:center;gap:8px;margin-top:6px}",
    ".zh-nc-count{font-size:13px;color:#576b95}",
    ".zh-nc-foot .weui-btn{margin:0;flex:none}"
  ].join("\n");

  function injectStyle() {
    if (document.getElementById("zh-nc-style")) return;
    var style = document.createElement("style");
    style.id = "zh-nc-style";
    style.textContent = STYLE;
    document.head.appendChild(style);
  }

  function distance(m) {
    return m < 1000 ? Math.round(m) + " 米" : (m / 1000).toFixed(1) + " 公里";
  }

  function load(params, url) {
    return zh.api("GET", (url || NEARBY_URL) + zh.qs(params));
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function followLabel(following) {
    return following ? "已关注（取消）" : "我也遇到了";
  }

  function setFollow(button, countEl, following, followers) {
    button.dataset.following = following ? "1" : "0";
    button.textContent = followLabel(following);
    button.className = "weui-btn weui-btn_mini " + (following ? "weui-btn_default" : "weui-btn_primary") + " zh-nc-follow";
    button.setAttribute("aria-pressed", following ? "true" : "false");
    countEl.textContent = followers > 0 ? followers + " 人也遇到了" : "";
  }

  function itemNode(c) {
    var node = el("div", "weui-cell zh-nc-item");
    node.id = "case-" + c.number;
    node.dataset.number = c.number;
    if (c.photo_url) {
      var open = el("button", "zh-nc-photo-btn");
      open.type = "button";
      open.setAttribute("data-viewer", "");
      open.setAttribute("aria-label", "查看大图：" + c.category + "现场照片");
      var img = el("img", "zh-nc-photo");
      img.src = c.photo_url;
      img.alt = c.category + "现场照片";
      img.loading = "lazy";
      img.dataset.photo = c.number;
      open.appendChild(img);
      node.appendChild(open);
    } else {
      node.appendChild(el("div", "zh-nc-photo zh-nc-photo_none", "暂无照片"));
    }
    var body = el("div", "weui-cell__bd zh-nc-body");
    var title = el("p", "zh-nc-title");
    title.appendChild(el("strong", "zh-nc-category", c.category));
    title.appendChild(el("span", "h5-tag zh-nc-state " + (c.phase === "open" ? "warn" : "ok"), c.state_label));
    body.appendChild(title);
    body.appendChild(el("p", "zh-nc-meta zh-nc-where", (c.place ? c.place + " · " : "") + "距此 " + distance(c.distance_m)));
    body.appendChild(el("p", "zh-nc-meta", c.created_on + " 上报 · 编号 " + c.number));
    var foot = el("div", "zh-nc-foot");
    var count = el("span", "zh-nc-count");
    foot.appendChild(count);
    // A finished case has nothing left to follow: no button, unless to stop following it; the
    // citizen's own case is followed in 我的上报.
    if (c.own) {
      count.textContent = c.followers > 0 ? c.followers + " 人也遇到了" : "";
      foot.appendChild(el("span", "h5-tag zh-nc-own", "我上报的"));
    } else if (c.phase === "open" || c.following) {
      var button = el("button");
      button.type = "button";
      button.dataset.number = c.number;
      button.dataset.anonymous = c.following == null ? "1" : "0";
      setFollow(button, count, !!c.following, c.followers);
      foot.appendChild(button);
    } else {
      count.textContent = c.followers > 0 ? c.followers + " 人也遇到了" : "";
    }
    body.appendChild(foot);
    node.appendChild(body);
    return node;
  }

  // ------------------------------------------------------------ sign-in prompt

  function loginPrompt() {
    var box = document.getElementById("zh-nc-login");
    if (!box) {
      box = el("div", "js_dialog");
      box.id = "zh-nc-login";
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-modal", "true");
      box.innerHTML = '<div class="weui-mask"></div><div class="weui-dialog">' +
        '<div class="weui-dialog__hd"><strong class="weui-dialog__title">请先登录</strong></div>' +
        '<div class="weui-dialog__bd">登录后即可点“我也遇到了”，关注这个问题的办理进度，不必重复上报。</div>' +
        '<div class="weui-dialog__ft">' +
        '<a href="#" role="button" class="weui-dialog__btn weui-dialog__btn_default" id="zh-nc-login-cancel">取消</a>' +
        '<a href="#" role="button" class="weui-dialog__btn" id="zh-nc-login-go">微信登录</a>' +
        "</div></div>";
      document.body.appendChild(box);
      box.addEventListener("click", function (e) {
        if (e.target.id === "zh-nc-login-go") { e.preventDefault(); zh.toLogin(); }
        else if (e.target.id === "zh-nc-login-cancel" || e.target.classList.contains("weui-mask")) { e.preventDefault(); box.hidden = true; }
      });
    }
    box.hidden = false;
  }

  // ------------------------------------------------------------ follow / unfollow

  function toggle(button) {
    if (button.dataset.anonymous === "1") { loginPrompt(); return; }
    if (button.disabled) return;
    var following = button.dataset.following === "1";
    var count = button.parentNode.querySelector(".zh-nc-count");
    var url = FOLLOW_URL.replace("NUMBER", encodeURIComponent(button.dataset.number));
    button.disabled = true;
    zh.api(following ? "DELETE" : "POST", url).then(function (answer) {
      button.disabled = false;
      setFollow(button, count, answer.following, answer.followers);
      if (window.h5 && h5.toast) h5.toast(answer.following ? "已关注，感谢反馈" : "已取消关注");
    }, function (err) {
      button.disabled = false;
      zh.flash(err.message, true);
    });
  }

  function renderList(container, items, query) {
    injectStyle();
    var list = el("div", "weui-cells zh-nc-list");
    list.setAttribute("data-viewer-group", "");
    items.forEach(function (c) { list.appendChild(itemNode(c)); });
    container.appendChild(list);
    if (query && window.h5 && h5.freshPhotos) {
      h5.freshPhotos(list, function () {  // the same search again: each case's photo, by number
        return load(query.params, query.url).then(function (answer) {
          var urls = {};
          answer.items.forEach(function (c) { if (c.photo_url) urls[c.number] = c.photo_url; });
          return urls;
        });
      });
    }
    if (!container.dataset.zhNcBound) {
      container.dataset.zhNcBound = "1";
      container.addEventListener("click", function (e) {
        var button = e.target.closest(".zh-nc-follow");
        if (button) toggle(button);
      });
    }
    return list;
  }

  function show(container, lat, lng, opts) {
    opts = opts || {};
    var params = {lat: lat, lng: lng, radius: opts.radius || 300, coord_sys: opts.coordSys || "gcj02"};
    return load(params, opts.url).then(function (answer) {
      var open = answer.items.filter(function (c) { return c.phase === "open"; });
      container.innerHTML = "";
      container.hidden = !open.length;
      if (!open.length) return 0;
      injectStyle();
      container.appendChild(el("p", "zh-nc-head", "附近已有 " + open.length + " 件类似问题正在处理"));
      container.appendChild(el("p", "zh-nc-hint", "如果是同一个问题，点“我也遇到了”即可关注办理进度，无需重复上报。"));
      renderList(container, open, {params: params, url: opts.url});
      return open.length;
    });
  }

  window.zhNearbyCases = {show: show, load: load, renderList: renderList, distance: distance};
})();
