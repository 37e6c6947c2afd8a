// Lint for every page script: the shell's (app/static) and each feature's (<feature>/static).
// Scripts are plain browser scripts loaded by <script src> (no modules, no build step); each
// page reads its settings from a <script type="application/json"> block, never from Jinja
// inside JavaScript.
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  {
    ignores: ["**/vendor/**", "node_modules/**", ".venv/**", "instance/**"],
  },
  js.configs.recommended,
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
  },
  {
    files: ["**/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: {
        ...globals.browser,
        L: "readonly", // Leaflet (app/static/vendor/leaflet)
        echarts: "readonly", // ECharts (app/static/vendor/echarts)
        wx: "readonly", // the WeChat JS-SDK inside the public account
        WeixinJSBridge: "readonly",
        // The shell's shared helpers, each set once on window by its own script:
        zh: "readonly", // app/static/zh.js: fetch with the one error shape, paging, times
        zhm: "readonly", // app/static/console/manage.js: the editor pages' form helpers
        zhMap: "readonly", // app/static/console/heat.js: Leaflet base map, boundaries, grid
        h5: "readonly", // app/static/h5/h5.js: toasts and field errors in the citizen pages
      },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      eqeqeq: ["error", "smart"],
    },
  },
];
