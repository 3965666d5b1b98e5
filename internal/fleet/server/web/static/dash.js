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
// --- pages-a: the host page's "check now" (dash_host.go) ---
// Without JavaScript the form posts and the server sends the browser back to the page. With it,
// the nudge is sent with fetch, then /hosts/{id}/state is polled every second for up to 60 s
// until the host reports a new run, and the results table is updated in place.
(function () {
  var form = document.getElementById("check-now");
  var status = document.getElementById("nudge-status");
  if (!form || !status || !window.fetch) { return; }
  var stateURL = form.getAttribute("data-state");
  var say = function (text, busy) {
    status.textContent = text;
    status.classList.toggle("busy", !!busy);
  };
  var utc = function (iso) {
    var d = new Date(iso);
    if (isNaN(d)) { return iso; }
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " +
      p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) + " UTC";
  };
  var getState = function () {
    return fetch(stateURL, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("application/json") < 0) {
          throw new Error("state: " + r.status);
        }
        return r.json();
      });
  };
  var apply = function (st) {
    Object.keys(st.results || {}).forEach(function (check) {
      var row = document.querySelector('#results tr[data-check="' + CSS.escape(check) + '"]');
      var cell = row && row.querySelector("td.status");
      if (!cell) { return; }
      var v = st.results[check];
      if (cell.textContent !== v) { row.classList.add("updated"); }
      cell.textContent = v;
      cell.className = "status status-" + v;
    });
    var hs = document.getElementById("host-status");
    if (hs && st.status) { hs.textContent = st.status; hs.className = "status status-" + st.status; }
    var lr = document.getElementById("last-run");
    if (lr && st.last_run) {
      lr.setAttribute("data-run", st.run_id);
      lr.textContent = "";
      var t = document.createElement("time");
      t.setAttribute("datetime", st.last_run);
      t.textContent = utc(st.last_run);
      t.title = new Date(st.last_run).toLocaleString();
      lr.appendChild(t);
    }
  };
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var button = form.querySelector("button");
    if (button) { button.disabled = true; }
    var done = function (text) { say(text, false); if (button) { button.disabled = false; } };
    var before = "";
    // The run before the nudge is read first, so that a run that arrived since the page was
    // loaded is not taken for the answer.
    getState().then(function (st) {
      before = st.run_id;
      return fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json" },
        body: new URLSearchParams(new FormData(form))
      });
    }).then(function (r) {
      if (!r.ok) { throw new Error("the server refused the check (" + r.status + ")"); }
      if ((r.headers.get("Content-Type") || "").indexOf("application/json") < 0) {
        throw new Error("the check was not sent: the session may have ended; reload the page");
      }
      say("check requested…", true);
      var tries = 0;
      var poll = function () {
        tries++;
        getState().then(function (st) {
          if (st.run_id && st.run_id !== before) {
            apply(st);
            done("checked at " + utc(st.last_run));
          } else if (tries >= 60) {
            done("no new results after 60 s; the host may be offline. Reload later.");
          } else {
            setTimeout(poll, 1000);
          }
        }).catch(function (e) { done("could not read the host's state: " + e.message); });
      };
      setTimeout(poll, 1000);
    }).catch(function (e) { done(e.message); });
  });
})();
// --- end pages-a ---
