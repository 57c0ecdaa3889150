// The rule editor: show the fields of the chosen benefit, and the group list only when it combines with some.
(function () {
  function sync(form) {
    if (!form) return;
    var kind = form.querySelector("[name=benefit_kind]");
    var combines = form.querySelector("[name=combines]:checked");
    form.querySelectorAll("[data-kinds]").forEach(function (el) {
      el.hidden = kind && el.dataset.kinds.split(" ").indexOf(kind.value) < 0;
    });
    form.querySelectorAll("[data-combines]").forEach(function (el) {
      el.hidden = !combines || el.dataset.combines !== combines.value;
    });
  }
  document.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "benefit_kind" || name === "combines") sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { sync(document.getElementById("rule-editor")); });
})();
