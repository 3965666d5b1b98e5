// firewarden dashboard: progressive enhancement only; every page reads without JavaScript.
"use strict";
// Dates are shown in UTC; the local time appears on hover.
document.querySelectorAll("time[datetime]").forEach(function (t) {
  var d = new Date(t.getAttribute("datetime"));
  if (!isNaN(d)) { t.title = d.toLocaleString(); }
});

// --- pages-b: settings ---
// A secret or token just created is shown once: one click selects all of it for copying.
document.querySelectorAll("output.secret-value").forEach(function (o) {
  o.addEventListener("click", function () {
    var r = document.createRange();
    r.selectNodeContents(o);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
  });
});
// --- end pages-b ---
