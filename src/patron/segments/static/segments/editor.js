// The classification editor: show the fields of the chosen kind, and the tie choice for quantiles only.
(function () {
  function sync(form) {
    if (!form) return;
    var kind = form.querySelector("[name=kind]");
    var method = form.querySelector("[name=method]");
    form.querySelectorAll("[data-kinds]").forEach(function (el) {
      el.hidden = kind && el.dataset.kinds.split(" ").indexOf(kind.value) < 0;
    });
    form.querySelectorAll("[data-methods]").forEach(function (el) {
      el.hidden = method && el.dataset.methods.split(" ").indexOf(method.value) < 0;
    });
    form.querySelectorAll("[data-window]").forEach(function (el) {
      var win = form.querySelector("[name=window]");
      el.hidden = win && win.value !== "custom";
    });
  }
  document.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "kind" || name === "method" || name === "window") sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { sync(document.getElementById("editor")); });
  document.addEventListener("htmx:afterSettle", function () { sync(document.getElementById("editor")); });
})();
