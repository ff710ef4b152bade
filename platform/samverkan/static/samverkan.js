// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Put focus on the error summary so screen-reader and keyboard users hear it first.
  function focusErrorSummary() {
    var summary = document.getElementById("error-summary") ||
      document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  }

  function answerOf(name) {
    var inputs = document.querySelectorAll('[name="' + name + '"]');
    var values = [];
    inputs.forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox")) {
        if (input.checked) { values.push(input.type === "checkbox" && input.value === "ja" ? true : input.value); }
      } else if (input.value) { values.push(input.value); }
    });
    return values;
  }

  // Show a conditional field only when its condition holds (the server checks it too).
  function updateConditions() {
    document.querySelectorAll("[data-show-if]").forEach(function (wrapper) {
      var condition = JSON.parse(wrapper.getAttribute("data-show-if"));
      if (!document.querySelector('[name="' + condition.field + '"]')) { return; }
      var wanted = condition.any_of || [condition.equals];
      var values = answerOf(condition.field);
      var shown = values.some(function (v) { return wanted.indexOf(v) !== -1; }) ||
        (wanted.indexOf(false) !== -1 && values.length === 0);
      wrapper.hidden = !shown;
      var hint = wrapper.querySelector(".condition");
      if (hint) { hint.hidden = true; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    updateConditions();
    document.addEventListener("change", updateConditions);
  });
})();
