// Registration form: show only the fieldset of the chosen source. Without JavaScript every
// fieldset stays visible and the server ignores the ones that do not apply.
(function () {
  "use strict";

  function update(form) {
    var chosen = form.querySelector("input[name='source_kind']:checked");
    var value = chosen ? chosen.value : "";
    form.querySelectorAll("fieldset[data-source]").forEach(function (fieldset) {
      fieldset.hidden = fieldset.getAttribute("data-source") !== value;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.register-form");
    if (!form) {
      return;
    }
    form.querySelectorAll("input[name='source_kind']").forEach(function (radio) {
      radio.addEventListener("change", function () { update(form); });
    });
    update(form);
  });
})();
