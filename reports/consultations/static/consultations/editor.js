/* 项目征询 editors (needs zh.js and console.js; the project editor also Leaflet and heat.js):
 *   #project-form: a project's fields, its point and area drawn on the map (GCJ-02, as the map's
 *     boundaries and tiles), its photos uploaded to /api/v1/media; POST (new) or PATCH
 *   #phase-form: a phase's dates and settings and its questions (single, multiple, text, rating);
 *     PUT, or DELETE the phase */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var cs = window.csConsole;  // console.js: done(), showErrors()

  // ------------------------------------------------------------ the project editor

  var form = $("project-form");
  if (form) {
    var cfg = JSON.parse($("editor-config").textContent);
    var project = cfg.project;
    var point = project ? [project.lat, project.lng] : null;
    var ring = project && project.area ? project.area.coordinates[0].slice(0, -1).map(function (p) { return [p[1], p[0]]; }) : [];
    var mode = "point", marker = null, shape = null;
    var map = zhMap.base($("edit-map"), {tileUrl: cfg.map.tileUrl, attribution: cfg.map.attribution,
                                         center: point || cfg.map.centre, zoom: point ? 15 : 11});
    zhMap.boundaries(map, cfg.map.boundaries, !point).catch(function () {});

    var draw = function () {
      if (marker) { marker.remove(); marker = null; }
      if (shape) { shape.remove(); shape = null; }
      if (ring.length) shape = L.polygon(ring, {color: "#07c160", weight: 2, fillOpacity: 0.15}).addTo(map);
      if (point) marker = L.circleMarker(point, {radius: 8, color: "#fff", weight: 2, fillColor: "#f5222d", fillOpacity: 1}).addTo(map);
      $("place-text").textContent = (point ? "已标注位置" : "尚未标注位置") + (ring.length ? "，范围 " + ring.length + " 个顶点" : "");
    };
    draw();
    var setMode = function (m) {
      mode = m;
      $("mode-point").setAttribute("aria-pressed", String(m === "point"));
      $("mode-area").setAttribute("aria-pressed", String(m === "area"));
    };
    $("mode-point").addEventListener("click", function () { setMode("point"); });
    $("mode-area").addEventListener("click", function () { setMode("area"); });
    $("clear-area").addEventListener("click", function () { ring = []; draw(); });
    map.on("click", function (e) {
      var at = [+e.latlng.lat.toFixed(7), +e.latlng.lng.toFixed(7)];
      if (mode === "point") point = at; else ring.push(at);
      draw();
    });

    var photos = $("photo-list");
    photos.addEventListener("click", function (e) {
      if (e.target.matches("[data-remove]")) e.target.closest(".photo").remove();
    });
    $("photo-input").addEventListener("change", function () {
      var file = this.files[0];
      if (!file) return;
      var data = new FormData();
      data.append("file", file);
      zh.api("POST", cfg.media, data).then(function (m) {
        var fig = document.createElement("figure");
        fig.className = "photo";
        fig.dataset.id = m.id;
        fig.innerHTML = '<img src="' + zh.esc(m.url) + '" alt="项目照片"><button type="button" class="btn link" data-remove>移除</button>';
        photos.appendChild(fig);
        zh.flash("照片已上传，保存后生效");
      }).catch(function (e) { cs.showErrors(form, {message: e.message, fields: {photos: e.message}}); });
      this.value = "";
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var missing = Array.prototype.filter.call(form.querySelectorAll("[required]"), function (el) { return !el.value.trim(); });
      if (missing.length) { zh.flash("请填写必填项", true); missing[0].focus(); return; }
      if (!point && ring.length < 3) { cs.showErrors(form, {message: "请在地图上标注项目位置", fields: {lat: "请在地图上标注项目位置或范围"}}); return; }
      var body = {name: $("p-name").value.trim(), kind: $("p-kind").value, description: $("p-description").value.trim(),
                  address: $("p-address").value.trim() || null, coord_sys: "gcj02",
                  photos: Array.prototype.map.call(photos.querySelectorAll(".photo"), function (f) { return f.dataset.id; })};
      if ($("p-department").value) body.department_id = parseInt($("p-department").value, 10);
      if (point) { body.lat = point[0]; body.lng = point[1]; }
      if (ring.length >= 3) {
        var coords = ring.map(function (p) { return [p[1], p[0]]; });
        body.area = {type: "Polygon", coordinates: [coords.concat([coords[0]])]};
      } else if (project && project.area) body.area = null;
      if (project) body.version = project.version;
      var button = $("save-project");
      button.disabled = true;
      var call = project ? zh.api("PATCH", cfg.api + "/projects/" + project.id, body) : zh.api("POST", cfg.api + "/projects", body);
      call.then(function (p) { cs.done(project ? "已保存" : "项目已创建，请设置征询阶段", cfg.pageBase + "/" + p.id); })
        .catch(function (e) { button.disabled = false; cs.showErrors(form, e); });
    });
  }

  // ------------------------------------------------------------ the phase editor

  var phaseForm = $("phase-form");
  if (!phaseForm) return;
  var pcfg = JSON.parse($("phase-config").textContent);
  var list = $("question-list");
  var CHOICES = ["single", "multiple"];

  function refresh() {
    list.querySelectorAll("fieldset.question").forEach(function (box, i) {
      box.querySelector(".q-number").textContent = i + 1;
      var kind = box.querySelector(".q-kind").value;
      box.querySelector(".q-options-box").hidden = CHOICES.indexOf(kind) < 0;
      box.querySelector(".q-max-box").hidden = kind !== "multiple";
    });
  }

  function addQuestion(q) {
    var box = $("question-template").content.firstElementChild.cloneNode(true);
    box.querySelector(".q-kind").value = q.kind;
    box.querySelector(".q-title").value = q.title || "";
    box.querySelector(".q-options").value = (q.options || []).join("\n");
    box.querySelector(".q-required").checked = q.required !== false;
    box.querySelector(".q-max").value = q.max_choices || "";
    if (pcfg.frozen) box.querySelectorAll("input, select, textarea, button").forEach(function (el) { el.disabled = true; });
    list.appendChild(box);
    refresh();
  }

  pcfg.questions.forEach(addQuestion);
  list.addEventListener("change", function (e) { if (e.target.matches(".q-kind")) refresh(); });
  list.addEventListener("click", function (e) {
    var op = e.target.dataset && e.target.dataset.op, box = e.target.closest("fieldset.question");
    if (!op || !box) return;
    if (op === "remove") box.remove();
    if (op === "up" && box.previousElementSibling) list.insertBefore(box, box.previousElementSibling);
    if (op === "down" && box.nextElementSibling) list.insertBefore(box.nextElementSibling, box);
    refresh();
  });
  if ($("add-question")) $("add-question").addEventListener("click", function () { addQuestion({kind: "single", options: []}); });

  function questions() {
    return Array.prototype.map.call(list.querySelectorAll("fieldset.question"), function (box) {
      var q = {kind: box.querySelector(".q-kind").value, title: box.querySelector(".q-title").value.trim(),
               required: box.querySelector(".q-required").checked};
      if (CHOICES.indexOf(q.kind) >= 0) {
        q.options = box.querySelector(".q-options").value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
      }
      var most = parseInt(box.querySelector(".q-max").value, 10);
      if (q.kind === "multiple" && most > 0) q.max_choices = most;
      return q;
    });
  }

  function localTime(value) { return value && value.length === 16 ? value + ":00" : value; }

  phaseForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    list.querySelectorAll(".q-error").forEach(function (el) { el.hidden = true; });
    var body = {title: $("ph-title").value.trim() || null, intro: $("ph-intro").value.trim() || null,
                opens_at: localTime($("ph-opens").value), closes_at: localTime($("ph-closes").value),
                allow_comments: $("ph-comments").checked, allow_proposals: $("ph-proposals").checked,
                questions: questions()};
    if (!body.opens_at || !body.closes_at) { zh.flash("请填写开始和结束时间", true); return; }
    var button = $("save-phase");
    button.disabled = true;
    zh.api("PUT", phaseForm.dataset.api, body).then(function () { cs.done("阶段已保存", pcfg.done); })
      .catch(function (e) {
        button.disabled = false;
        var boxes = list.querySelectorAll("fieldset.question"), rest = {};
        var put = function (i, text) {  // a question's error under it: "questions.0" or {questions: {0: ...}}
          if (!boxes[i]) return false;
          var el = boxes[i].querySelector(".q-error");
          el.textContent = zh.messageOf(text);
          el.hidden = false;
          return true;
        };
        Object.keys(e.fields || {}).forEach(function (name) {
          var m = /^questions\.(\d+)/.exec(name), value = e.fields[name];
          if (m && put(+m[1], value)) return;
          if (name === "questions" && value && !Array.isArray(value)) {
            Object.keys(value).forEach(function (i) { if (!put(+i, value[i])) rest[name] = value[i]; });
            return;
          }
          rest[name] = value;
        });
        cs.showErrors(phaseForm, {message: e.message, fields: rest});
      });
  });

  if ($("delete-phase")) {
    $("delete-phase").addEventListener("click", function () {
      if (!window.confirm("确定删除此阶段吗？")) return;
      zh.api("DELETE", phaseForm.dataset.api).then(function () { cs.done("阶段已删除", pcfg.done); })
        .catch(function (e) { cs.showErrors(phaseForm, e); });
    });
  }
})();
