// Cluster page: while a collection is pending or running, the collection history carries a
// data-poll-url; fetch that server-rendered partial every 2 s and swap it in. The partial drops
// the attribute once no run is active, which ends the polling. No inline script (strict CSP).
(function () {
  "use strict";
  var INTERVAL_MS = 2000;
  var MAX_BACKOFF_MS = 30000;

  function schedule(delay) {
    window.setTimeout(function () { refresh(0); }, delay);
  }

  function refresh(failures) {
    var target = document.querySelector("[data-poll-url]");
    if (!target) {
      return;
    }
    fetch(target.getAttribute("data-poll-url"), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        var fresh = template.content.firstElementChild;
        if (fresh) {
          target.replaceWith(fresh);
        }
        schedule(INTERVAL_MS);
      })
      .catch(function () {
        var delay = Math.min(MAX_BACKOFF_MS, INTERVAL_MS * Math.pow(2, failures + 1));
        window.setTimeout(function () { refresh(failures + 1); }, delay);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-poll-url]")) {
      schedule(INTERVAL_MS);
    }
  });
})();
