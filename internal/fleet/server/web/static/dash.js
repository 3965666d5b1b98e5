// firewarden dashboard: progressive enhancement only; every page reads without JavaScript.
"use strict";
// Dates are shown in UTC; the local time appears on hover.
document.querySelectorAll("time[datetime]").forEach(function (t) {
  var d = new Date(t.getAttribute("datetime"));
  if (!isNaN(d)) { t.title = d.toLocaleString(); }
});
