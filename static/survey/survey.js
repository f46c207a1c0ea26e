// Small conveniences only: the survey works without JavaScript.
(function () {
  "use strict";
  // A second click on a submit button sends nothing more (the server ignores repeats anyway).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
  // Coming back with the browser's back button: the buttons work again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-once] button[type=submit]").forEach(function (b) { b.disabled = false; });
  });
  // Number keys (1 to k) choose an option on a question page.
  var question = document.querySelector("form.question");
  if (!question) { return; }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var input = question.querySelector("input[name=choice][value='" + event.key + "']");
    if (input && !input.disabled) {
      input.checked = true;
      input.focus();
      event.preventDefault();
    }
  });
})();
