// Uploads that show their progress. A form marked data-upload-progress is sent with
// XMLHttpRequest so the browser can report how much of the file has gone; when the server has
// answered (it stores and checks the bundle, then names the page that shows the collection's
// own progress and its messages) the browser opens that page as a normal submit would have.
// Without JavaScript the form posts as usual. No inline script (strict CSP).
(function () {
  "use strict";

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB";
  }

  function show(box, fraction, text) {
    var bar = box.querySelector("progress");
    box.hidden = false;
    if (fraction === null) {
      bar.removeAttribute("value");  // indeterminate while the server checks the bundle
    } else {
      bar.value = Math.round(fraction * 100);
    }
    box.querySelector("[role=status]").textContent = text;
  }

  function failed(form, box, text) {
    show(box, 0, text);
    box.classList.add("upload-failed");
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = false;
    });
  }

  function send(form, box) {
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) {
        show(box, null, "Uploading " + megabytes(event.loaded) + "…");
        return;
      }
      var fraction = event.loaded / event.total;
      show(box, fraction, "Uploading: " + megabytes(event.loaded) + " of " +
        megabytes(event.total) + " (" + Math.round(fraction * 100) + " %)");
    });
    request.upload.addEventListener("load", function () {
      show(box, null, "Uploaded; Rampart is checking the bundle…");
    });
    request.addEventListener("load", function () {
      var location = null;
      try {
        location = JSON.parse(request.responseText).location;
      } catch (error) {
        location = null;
      }
      if (request.status === 200 && typeof location === "string" && location.charAt(0) === "/") {
        window.location.assign(location);
        return;
      }
      failed(form, box, "The upload was refused (HTTP " + request.status +
        "); nothing was stored. Reload the page and try again.");
    });
    request.addEventListener("error", function () {
      failed(form, box, "The upload was interrupted; nothing was stored. Try again.");
    });
    request.send(new FormData(form));
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload-progress]").forEach(function (form) {
      var box = form.querySelector(".upload-progress");
      if (!box || !window.FormData) {
        return;
      }
      form.addEventListener("submit", function (event) {
        if (!form.checkValidity()) {
          return;
        }
        event.preventDefault();
        box.classList.remove("upload-failed");
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.disabled = true;
        });
        show(box, 0, "Starting the upload…");
        send(form, box);
      });
    });
  });
})();
