// The simulator: show the account picker or the description, as chosen.
(function () {
  function sync(form) {
    if (!form) return;
    var mode = form.querySelector("[name=mode]:checked");
    form.querySelectorAll("[data-mode]").forEach(function (el) {
      el.hidden = !mode || el.dataset.mode !== mode.value;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "mode") sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { sync(document.getElementById("simulator-form")); });
})();
