// tollguard console: small progressive enhancements (the pages work without them).
// - [data-refresh]: reload that part of the page every data-interval seconds, in place;
// - [data-confirm]: ask before submitting the form of that button.
"use strict";

(function () {
  function refresh(el) {
    var url = el.getAttribute("data-refresh");
    var seconds = parseInt(el.getAttribute("data-interval") || "15", 10);
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || !r.ok) { throw new Error("session ended"); }
          return r.text();
        })
        .then(function (html) { el.innerHTML = html; el.classList.remove("stale"); })
        .catch(function () { el.classList.add("stale"); })
        .finally(function () { busy = false; });
    }
    window.setInterval(tick, Math.max(5, seconds) * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });
  }

  function confirmations() {
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest ? ev.target.closest("[data-confirm]") : null;
      if (button && !window.confirm(button.getAttribute("data-confirm"))) {
        ev.preventDefault();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    confirmations();
  });
})();
