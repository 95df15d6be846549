// Light/dark theme: follows the system unless the visitor picked one (kept in localStorage).
// Loaded in <head> (not deferred) so the chosen theme applies before the first paint.
(function () {
  "use strict";
  var KEY = "tmsite-theme";
  var root = document.documentElement;
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function apply(theme) {
    root.setAttribute("data-theme", theme === "light" || theme === "dark" ? theme : "auto");
  }
  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        var current = root.getAttribute("data-theme");
        if (current === "auto") {
          current = window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
        }
        var next = current === "dark" ? "light" : "dark";
        apply(next);
        try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: theme lasts the page */ }
        document.dispatchEvent(new CustomEvent("tmsite:theme", { detail: next }));
      });
    });
  });
})();
