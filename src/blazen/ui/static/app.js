// blazen run viewer: live refresh and confirmations. No dependencies, no network but this server.
"use strict";
(function () {
  var meta = document.querySelector('meta[name="blazen-poll-ms"]');
  var pollMs = meta ? parseInt(meta.getAttribute("content"), 10) || 2000 : 2000;

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }

  function fmtTime(ts) {
    var d = new Date(ts * 1000);
    function p(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  function fmtDuration(s) {
    if (s < 10) { return s.toFixed(3) + "s"; }
    if (s < 60) { return s.toFixed(1) + "s"; }
    if (s < 3600) { var m = Math.floor(s / 60), r = Math.floor(s % 60); return m + "m" + (r < 10 ? "0" : "") + r + "s"; }
    var h = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60);
    return h + "h" + (mm < 10 ? "0" : "") + mm + "m";
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function runRow(run) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-run", run.run_id);
    var idCell = cell(tr, "", "mono");
    var a = document.createElement("a");
    a.className = "run-link";
    a.href = "/runs/" + encodeURIComponent(run.run_id);
    a.textContent = run.run_id;
    idCell.appendChild(a);
    cell(tr, run.workflow);
    var st = cell(tr, "");
    var badge = document.createElement("span");
    badge.className = "status s-" + run.status;
    badge.textContent = run.status;
    if (run.error) { badge.title = run.error; }
    st.appendChild(badge);
    cell(tr, fmtTime(run.created_at));
    cell(tr, fmtTime(run.updated_at));
    cell(tr, fmtDuration(run.duration), "num");
    cell(tr, String(run.last_seq + 1), "num");
    cell(tr, run.last_step);
    return tr;
  }

  function refreshList(table) {
    var live = document.getElementById("live");
    var url = table.getAttribute("data-api");
    getJSON(url).then(function (data) {
      var body = table.tBodies[0];
      var rows = document.createDocumentFragment();
      data.runs.forEach(function (run) { rows.appendChild(runRow(run)); });
      if (!data.runs.length) {
        var empty = document.createElement("tr");
        empty.className = "empty";
        cell(empty, "No runs.").colSpan = 8;
        rows.appendChild(empty);
      }
      body.replaceChildren(rows);
      if (live) { live.hidden = false; }
    }).catch(function () { if (live) { live.hidden = true; } });
  }

  function watchRun(section) {
    var url = section.getAttribute("data-api");
    var lastSeq = parseInt(section.getAttribute("data-last-seq"), 10);
    var status = section.getAttribute("data-status");
    var explicit = section.getAttribute("data-explicit-seq") === "yes";
    var timer = setInterval(function () {
      getJSON(url).then(function (run) {
        if (run.last_seq === lastSeq && run.status === status) { return; }
        if (explicit) {
          document.getElementById("progress-note").hidden = false;
          clearInterval(timer);
        } else {
          window.location.reload();
        }
      }).catch(function () { /* the next poll retries */ });
    }, pollMs);
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { ev.preventDefault(); }
  });

  var table = document.getElementById("runs");
  if (table) { setInterval(function () { refreshList(table); }, pollMs); }
  var run = document.getElementById("run");
  if (run && run.getAttribute("data-finished") !== "yes") { watchRun(run); }
})();
