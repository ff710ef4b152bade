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
      if (hint && !hint.hidden) {
        // Shown only when it applies, the condition needs no words: nor are they read out
        // (a hidden element a description names is still read).
        hint.hidden = true;
        wrapper.querySelectorAll("[aria-describedby]").forEach(function (input) {
          var ids = input.getAttribute("aria-describedby").split(" ").filter(function (id) {
            return id && id !== hint.id;
          });
          if (ids.length) { input.setAttribute("aria-describedby", ids.join(" ")); }
          else { input.removeAttribute("aria-describedby"); }
        });
      }
    });
  }

  // A file over its limit, or files over the request's limit together, are refused by the
  // server before it reads the request, so the step's other answers would be lost with
  // them: say so here instead, as the server says it, and send nothing.
  function filesTooLarge(form) {
    var problems = [];
    var chosen = [];
    var total = 0;
    form.querySelectorAll('input[type="file"][data-max-bytes]').forEach(function (input) {
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length) { return; }
      chosen.push(input);
      var most = Number(input.getAttribute("data-max-files") || 1);
      if (files.length > most) {
        problems.push([input, input.getAttribute("data-too-many")]);
        return;
      }
      var large = files.filter(function (file) {
        total += file.size;
        return file.size > Number(input.getAttribute("data-max-bytes"));
      });
      if (large.length) {
        // Several files in one field: say which, as the server does.
        var which = input.multiple ? large.map(function (file) { return file.name; }).join(", ") + ": " : "";
        var message = large.length > 1 && input.getAttribute("data-too-large-several") ||
          input.getAttribute("data-too-large");
        problems.push([input, which + message]);
      }
    });
    // The other answers and the form's framing travel in the same request.
    var room = Number(form.getAttribute("data-max-request-bytes")) - 64 * 1024;
    if (!problems.length && total > room) {
      chosen.forEach(function (input) {
        problems.push([input, form.getAttribute("data-files-together")]);
      });
    }
    return problems;
  }

  function element(tag, attributes, text) {
    var made = document.createElement(tag);
    Object.keys(attributes).forEach(function (name) { made.setAttribute(name, attributes[name]); });
    if (text) { made.textContent = text; }
    return made;
  }

  // The same markup as a step the server refused (citizen/step.html, catalogue/fields.html).
  function showFileErrors(form, problems) {
    var prefix = form.getAttribute("data-error-prefix");
    problems.forEach(function (problem) {
      var input = problem[0];
      var id = input.id + "-error";
      var message = document.getElementById(id);
      if (!message) {
        message = element("p", { "class": "error-message", id: id });
        input.parentNode.insertBefore(message, input);
        var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        described.push(id);
        input.setAttribute("aria-describedby", described.join(" "));
      }
      message.textContent = "";
      message.appendChild(element("span", { "class": "visually-hidden" }, prefix));
      message.appendChild(document.createTextNode(" " + problem[1]));
      input.setAttribute("aria-invalid", "true");
      input.closest(".field").classList.add("field--error");
    });
    var earlier = document.getElementById("error-summary");
    if (earlier) { earlier.parentNode.removeChild(earlier); }
    var titles = JSON.parse(form.getAttribute("data-summary-titles"));
    var summary = element("div", {
      "class": "error-summary", id: "error-summary", tabindex: "-1", role: "region",
      "aria-labelledby": "error-summary-title"
    });
    summary.appendChild(element("h2", { id: "error-summary-title" },
      titles[Math.min(problems.length, titles.length) - 1]));
    var list = element("ul", {});
    problems.forEach(function (problem) {
      var item = element("li", {});
      item.appendChild(element("a", { href: "#" + problem[0].id },
        problem[0].getAttribute("data-label") + " – " + problem[1]));
      list.appendChild(item);
    });
    summary.appendChild(list);
    var before = document.querySelector("main .caption") || form;
    before.parentNode.insertBefore(summary, before);
    if (document.title.indexOf(prefix + " ") !== 0) { document.title = prefix + " " + document.title; }
    summary.focus();
  }

  // Files take a while to send: a second click meanwhile would send them all again (the
  // server keeps one copy), so a form on its way is not sent twice. Back on it from the
  // next page (the browser's page cache) it can be sent again.
  function checkFilesBeforeSending(event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-max-request-bytes")) { return; }
    if (form.hasAttribute("data-sending")) {
      event.preventDefault();
      return;
    }
    var problems = filesTooLarge(form);
    if (problems.length) {
      event.preventDefault();
      showFileErrors(form, problems);
      return;
    }
    if (event.defaultPrevented) { return; }
    form.setAttribute("data-sending", "");
    form.querySelectorAll("button").forEach(function (button) {
      button.setAttribute("aria-disabled", "true");
    });
  }

  function sendableAgain(event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      form.removeAttribute("data-sending");
      form.querySelectorAll("button").forEach(function (button) {
        button.removeAttribute("aria-disabled");
      });
    });
  }

  // Two minutes before an idle e-ID sign-in ends, say so and offer to go on (WCAG 2.2.1):
  // the button asks the server to start the idle time again; without script it is a form.
  function warnBeforeSignInEnds() {
    var box = document.getElementById("session-warning");
    if (!box || !window.fetch) { return; }
    var timer = null;
    var before = null;
    function show() {
      before = document.activeElement;
      box.hidden = false;
      box.querySelector("button").focus();
    }
    function schedule(secondsLeft) {
      clearTimeout(timer);
      var warn = Number(box.getAttribute("data-warn-seconds"));
      timer = setTimeout(show, Math.max(0, secondsLeft - warn) * 1000);
    }
    var form = box.querySelector("form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (answer) {
        // Ended meanwhile: the page itself, loaded again, says so (its form's token went
        // with the session, so sending the form would only be refused).
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.json() : Promise.reject(answer.status);
      }).then(function (answer) {
        if (!answer) { return; }
        if (answer.seconds_left <= Number(box.getAttribute("data-warn-seconds"))) {
          // Its whole lifetime is up: nothing more to give, so say that instead.
          box.querySelector("p").textContent = box.getAttribute("data-final-text");
          form.hidden = true;
          box.focus();
          return;
        }
        box.hidden = true;
        if (before && before.focus) { before.focus(); }
        schedule(answer.seconds_left);
      }).catch(function () { form.submit(); });
    });
    schedule(Number(box.getAttribute("data-seconds-left")));
  }

  document.addEventListener("DOMContentLoaded", function () {
    warnBeforeSignInEnds();
    focusErrorSummary();
    updateConditions();
    document.addEventListener("change", updateConditions);
    document.addEventListener("submit", checkFilesBeforeSending);
  });
  window.addEventListener("pageshow", sendableAgain);
})();
