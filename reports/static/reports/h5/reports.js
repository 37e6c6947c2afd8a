/* 智慧城管 H5 "我的上报": further pages from GET /api/v1/reports, appended under the first one.
 * Needs zh.js; ids are those of h5/reports.html. */
(function () {
  "use strict";
  var list = document.getElementById("report-list"), more = document.getElementById("load-more");
  if (!list || !more) return;
  var tones = JSON.parse(list.dataset.tones || "{}");
  var perPage = parseInt(list.dataset.perPage, 10), total = parseInt(list.dataset.total, 10);

  function text(node, selector, value) { node.querySelector(selector).textContent = value; }

  function append(item) {
    var node = document.getElementById("report-item-template").content.firstElementChild.cloneNode(true);
    node.href = list.dataset.detailUrl.replace("NUMBER", encodeURIComponent(item.number));
    text(node, ".h5-report-item__desc", item.description);
    text(node, ".h5-report-item__number", item.number);
    text(node, ".h5-report-item__category", item.category || "类别待确认");
    text(node, ".h5-report-item__time", zh.time(item.created_at));
    var tag = node.querySelector(".h5-report-item__state");
    tag.textContent = item.state_label;
    tag.className = "h5-tag h5-report-item__state " + (tones[item.state] || "warn");
    list.appendChild(node);
  }

  more.addEventListener("click", function () {
    var page = parseInt(list.dataset.page, 10) + 1;
    more.disabled = true;
    more.innerHTML = '<i class="weui-loading"></i>正在加载';
    zh.api("GET", list.dataset.api + zh.qs({page: page, per_page: perPage})).then(function (data) {
      data.items.forEach(append);
      list.dataset.page = page;
      total = data.total;
      document.getElementById("reports-total").textContent = "共 " + total + " 条";
      var done = page * perPage >= total || !data.items.length;
      document.getElementById("load-more-area").hidden = done;
      document.getElementById("list-end").hidden = !done;
    }, zh.fail).then(function () {
      more.disabled = false;
      more.textContent = "加载更多";
    });
  });
})();
