// The incident page's live timeline: while the incident is open, the page's <ol id="timeline">
// carries data-events (the stream's address) and data-after (its last event). New events come as
// server-sent events and are appended as text (never as HTML); the browser reconnects by itself
// and resumes after the last event it got (Last-Event-ID). A `resolved` event ends it.
(function () {
  "use strict";
  var list = document.getElementById("timeline");
  if (!list || !list.dataset.events || !window.EventSource) {
    return;
  }
  var note = document.getElementById("live-state");
  var count = document.querySelector("#timeline-h .muted");
  var source = new EventSource(list.dataset.events + "?after=" + encodeURIComponent(list.dataset.after));

  function append(entry) {
    if (document.getElementById("event-" + entry.id)) {
      return;
    }
    var item = document.createElement("li");
    item.id = "event-" + entry.id;
    item.dataset.kind = entry.kind;
    item.className = "new";
    var time = document.createElement("time");
    time.dateTime = entry.iso;
    time.textContent = entry.at;
    var body = document.createElement("span");
    var actor = document.createElement("span");
    actor.className = "actor";
    actor.textContent = entry.actor;
    body.appendChild(actor);
    body.appendChild(document.createTextNode(" " + entry.text));
    item.appendChild(time);
    item.appendChild(body);
    list.appendChild(item);
    if (count) {
      var n = parseInt(count.textContent.replace(/\D/g, ""), 10);
      if (!isNaN(n)) {
        count.textContent = "(" + (n + 1) + " events)";
      }
    }
  }

  source.addEventListener("entry", function (e) {
    try {
      append(JSON.parse(e.data));
    } catch (err) {
      // A malformed entry is skipped; the next one still arrives.
    }
  });
  source.addEventListener("resolved", function (e) {
    source.close();
    if (note) {
      note.textContent = e.data;
    }
    var status = document.getElementById("incident-status");
    if (status) {
      status.textContent = "resolved";
      status.className = "status status-resolved";
    }
  });
})();
