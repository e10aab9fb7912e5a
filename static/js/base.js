// Small page-wide behaviour: selects that submit their form (no inline handlers, CSP-friendly).
(function () {
  "use strict";
  document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
