/* 公众号菜单: a structured editor of the public account's menu (up to 3 menus, each an action or
 * up to 5 sub-buttons). Saving sends PUT /api/v1/admin/wechat/menu; pushing sends POST .../push
 * (which pushes what was saved). Names are counted in UTF-8 bytes as WeChat counts them. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("menu-config").textContent);
  var saved = JSON.parse(document.getElementById("menu-initial").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var FIELDS = [["key", "事件标识"], ["url", "网页地址"], ["pagepath", "小程序页面"],
                ["appid", "另一个小程序的编号（留空为本市小程序）"]];
  var menu = [];
  var dirty = false;

  function bytes(text) { return new TextEncoder().encode(text || "").length; }

  function clone(buttons) { return JSON.parse(JSON.stringify(buttons || [])); }

  function typeOptions(current, allowSubs) {
    var out = allowSubs ? '<option value=""' + (current ? "" : " selected") + ">含子菜单</option>" : "";
    Object.keys(cfg.types).forEach(function (t) {
      out += '<option value="' + zh.esc(t) + '"' + (t === current ? " selected" : "") + ">" +
        zh.esc(cfg.types[t]) + "</option>";
    });
    return out;
  }

  /* One button's inputs; `path` ("0" or "0.2") names it for the change handler. */
  function buttonRow(b, path, top) {
    var limit = top ? cfg.limits.name : cfg.limits.subName;
    var kind = b.type || "";
    var needs = cfg.required[kind] || [];
    var html = '<div class="menu-row" data-path="' + path + '">' +
      '<label>名称（' + bytes(b.name) + "/" + limit + ' 字节）<input type="text" data-field="name" value="' +
      zh.esc(b.name || "") + '"></label>' +
      '<label>类型<select data-field="type">' + typeOptions(kind, top) + "</select></label>";
    FIELDS.forEach(function (f) {
      var shown = needs.indexOf(f[0]) >= 0 || (f[0] === "appid" && kind === "miniprogram");
      if (!shown) return;
      html += "<label>" + zh.esc(f[1]) + '<input type="text" data-field="' + f[0] + '" value="' +
        zh.esc(b[f[0]] || "") + '"></label>';
    });
    html += '<button type="button" class="btn link danger" data-remove="' + path + '">删除</button></div>';
    return html;
  }

  function draw() {
    var html = "";
    menu.forEach(function (b, i) {
      var hasSubs = !b.type;
      html += '<fieldset class="menu-top"><legend>第 ' + (i + 1) + " 个一级菜单</legend>" +
        buttonRow(b, String(i), true);
      if (hasSubs) {
        html += '<div class="menu-subs">';
        (b.sub_button || []).forEach(function (s, j) { html += buttonRow(s, i + "." + j, false); });
        if ((b.sub_button || []).length < cfg.limits.subButtons) {
          html += '<button type="button" class="btn link" data-add-sub="' + i + '">添加子菜单</button>';
        }
        html += "</div>";
      }
      html += "</fieldset>";
    });
    $("menu-tops").innerHTML = html || '<p class="muted">还没有菜单，请添加一级菜单。</p>';
    $("menu-add-top").hidden = menu.length >= cfg.limits.buttons;
  }

  function target(path) {
    var parts = path.split(".").map(Number);
    return parts.length === 1 ? menu[parts[0]] : menu[parts[0]].sub_button[parts[1]];
  }

  $("menu-tops").addEventListener("input", function (ev) {
    var input = ev.target, row = input.closest("[data-path]");
    if (!row || input.tagName !== "INPUT") return;
    target(row.getAttribute("data-path"))[input.getAttribute("data-field")] = input.value;
    dirty = true;
    if (input.getAttribute("data-field") === "name") {
      var top = row.getAttribute("data-path").indexOf(".") < 0;
      input.parentNode.firstChild.textContent = "名称（" + bytes(input.value) + "/" +
        (top ? cfg.limits.name : cfg.limits.subName) + " 字节）";
    }
  });

  $("menu-tops").addEventListener("change", function (ev) {
    var select = ev.target, row = select.closest("[data-path]");
    if (!row || select.tagName !== "SELECT") return;
    var b = target(row.getAttribute("data-path"));
    if (select.value) {
      b.type = select.value;
      delete b.sub_button;
    } else {
      delete b.type;
      b.sub_button = b.sub_button || [];
    }
    dirty = true;
    draw();
  });

  $("menu-tops").addEventListener("click", function (ev) {
    var el = ev.target;
    if (el.hasAttribute("data-add-sub")) {
      menu[+el.getAttribute("data-add-sub")].sub_button.push({type: "view", name: "", url: ""});
    } else if (el.hasAttribute("data-remove")) {
      var parts = el.getAttribute("data-remove").split(".").map(Number);
      if (parts.length === 1) menu.splice(parts[0], 1);
      else menu[parts[0]].sub_button.splice(parts[1], 1);
    } else {
      return;
    }
    dirty = true;
    draw();
  });

  $("menu-add-top").addEventListener("click", function () {
    menu.push({name: "", sub_button: [{type: "view", name: "", url: ""}]});
    dirty = true;
    draw();
  });

  /* The menu as the API takes it: empty fields left out. */
  function body() {
    function clean(b) {
      var out = {name: (b.name || "").trim()};
      if (b.type) out.type = b.type;
      FIELDS.forEach(function (f) { if ((b[f[0]] || "").trim()) out[f[0]] = b[f[0]].trim(); });
      if (!b.type) out.sub_button = (b.sub_button || []).map(clean);
      return out;
    }
    return {button: menu.map(clean)};
  }

  function showErrors(e) {
    var list = [];
    document.querySelectorAll(".menu-row .bad").forEach(function (el) { el.classList.remove("bad"); });
    Object.keys(e.fields || {}).forEach(function (k) {
      var v = e.fields[k];
      if (Array.isArray(v)) list.push.apply(list, v.map(String));
      var m = /^button\.(\d+)(?:\.sub_button\.(\d+))?\.(\w+)$/.exec(k);
      if (m) {
        var row = document.querySelector('[data-path="' + m[1] + (m[2] != null ? "." + m[2] : "") + '"]');
        var input = row && row.querySelector('[data-field="' + m[3] + '"]');
        if (input) input.classList.add("bad");
      }
    });
    $("menu-errors").innerHTML = list.map(function (t) { return "<li>" + zh.esc(t) + "</li>"; }).join("");
    zh.flash(e.message, true);
  }

  function state(s) {
    saved = s;
    var text = s.saved ? "最后保存：" + (s.updated_by || "") + " " + zh.time(s.updated_at)
      : "尚未保存过菜单，下面是系统默认菜单。";
    text += s.pushed_at ? " 最后推送到微信：" + (s.pushed_by || "") + " " + zh.time(s.pushed_at) : " 尚未推送到微信。";
    $("menu-state").textContent = text;
    menu = clone(s.button);
    dirty = false;
    $("menu-errors").innerHTML = "";
    draw();
  }

  function save() {
    return zh.api("PUT", cfg.menu, body()).then(function (s) {
      state(s);
      zh.flash("菜单已保存；点击“推送到微信”后生效");
      return s;
    });
  }

  $("menu-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    save().catch(showErrors);
  });

  $("menu-push").addEventListener("click", function () {
    if (!window.confirm("确定将菜单推送到微信公众号吗？推送后约 5 分钟内对所有关注者生效。")) return;
    var first = dirty ? save() : Promise.resolve();
    first.then(function () { return zh.api("POST", cfg.push); }).then(function (s) {
      state(s);
      zh.flash("菜单已推送到微信");
    }).catch(showErrors);
  });

  $("menu-reset").addEventListener("click", function () { state(saved); });

  state(saved);
}());
