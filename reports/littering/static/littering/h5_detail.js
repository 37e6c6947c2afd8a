/* 车窗抛物举报 detail (H5): the evidence photos open in h5.js's viewer, and one whose short-lived
 * link expired while the page was open gets a fresh one from the report's JSON
 * (GET /api/v1/littering/reports/<number>, #littering-detail-config's api); 确认收款. Inside WeChat
 * the page asks WeChat Pay's confirm sheet through WeixinJSBridge ('requestMerchantTransfer', the
 * H5 twin of wx.requestMerchantTransfer); elsewhere (the embedded emulator) the link opens the
 * emulator's confirm page. Afterwards the page checks the report again until the money has
 * arrived. Needs zh.js and h5.js; ids are those of littering/h5_detail.html. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  if (/[?&]submitted=1/.test(location.search) && window.history.replaceState) {
    history.replaceState(null, "", location.pathname);  // a reload shows no second toast
  }

  var config = {};
  try { config = JSON.parse($("littering-detail-config").textContent); } catch (ignored) { config = {}; }
  if (config.api && $("evidence")) {
    h5.freshPhotos($("evidence"), function () {
      return zh.api("GET", config.api).then(function (report) {
        var urls = {};
        (report.evidence || []).forEach(function (m) { urls[m.id] = m.url; });
        return urls;
      });
    });
  }

  var button = $("confirm-receipt");
  if (!button) return;
  var number = $("report-number").textContent.trim();
  var inWeChat = /MicroMessenger/i.test(navigator.userAgent);

  /* Ask the API until the callback has marked the reward paid (a few seconds), then reload. */
  function watch(tries) {
    zh.api("GET", "/api/v1/littering/reports/" + encodeURIComponent(number)).then(function (r) {
      if (r.status !== "to_claim") { location.reload(); return; }
      if (tries > 0) setTimeout(function () { watch(tries - 1); }, 2000);
    }, function () { /* the page still shows the last known state */ });
  }

  button.addEventListener("click", function (e) {
    var params = {mchId: button.dataset.mchId, appId: button.dataset.appId, package: button.dataset.package};
    if (window.WeixinJSBridge) {
      e.preventDefault();
      WeixinJSBridge.invoke("requestMerchantTransfer", params, function (res) {
        var msg = (res && res.err_msg) || "";
        if (/:ok$/.test(msg)) { h5.toast("已确认收款"); watch(8); }
        else if (!/cancel/.test(msg)) zh.flash("确认收款未完成，请稍后重试（" + msg + "）", true);
      });
      return;
    }
    if (inWeChat) { e.preventDefault(); zh.flash("微信组件加载中，请稍后再点一次", true); return; }
    if (!button.dataset.emulatorUrl) { e.preventDefault(); zh.flash("请在微信中打开本页面确认收款", true); }
    // else: the link opens the emulator's confirm page
  });

  // Back from the confirm page (bfcache or a new load): look again for the callback's result.
  window.addEventListener("pageshow", function (e) { if (e.persisted) watch(8); });
})();
