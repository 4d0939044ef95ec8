// inbox.js - the example inbox page's logic (see index.html, docs/api.md).
// Every text from the server goes into the page with textContent, never
// as HTML: a notification's title is someone else's words.
(function () {
  "use strict";

  var api = document.body.getAttribute("data-api");
  var list = document.getElementById("list");
  var unreadEl = document.getElementById("unread");
  var statusEl = document.getElementById("status");
  var moreBtn = document.getElementById("more");
  var nextCursor = null;
  var unread = 0;

  function setUnread(n) {
    unread = Math.max(0, n);
    unreadEl.textContent = String(unread);
  }

  function item(n) {
    var li = document.createElement("li");
    li.id = "n-" + n.id;
    li.setAttribute("data-id", String(n.id));
    li.className = (n.is_read ? "read" : "unread") +
      (n.priority === 4 ? " urgent" : "");
    var t = document.createElement("div");
    t.className = "title";
    t.textContent = n.title || "";
    li.appendChild(t);
    if (n.message) {
      var m = document.createElement("div");
      m.className = "message";
      m.textContent = n.message;
      li.appendChild(m);
    }
    var when = document.createElement("time");
    when.textContent = new Date(n.created_at).toLocaleString();
    li.appendChild(when);
    if (!n.is_read) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "mark-read";
      b.textContent = "Mark read";
      b.addEventListener("click", function () { markRead(n.id, li, b); });
      li.appendChild(b);
    }
    return li;
  }

  function request(method, path) {
    return fetch(api + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.error || r.status); }
        return body;
      });
    });
  }

  function load(cursor) {
    var q = "?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    return request("GET", q).then(function (body) {
      body.notifications.forEach(function (n) {
        if (!document.getElementById("n-" + n.id)) { list.appendChild(item(n)); }
      });
      setUnread(body.unread_count);
      nextCursor = body.next_cursor;
      moreBtn.hidden = !nextCursor;
    });
  }

  function markRead(id, li, b) {
    request("POST", "/" + id + "/read").then(function () {
      if (li.classList.contains("unread")) { setUnread(unread - 1); }
      li.classList.remove("unread");
      li.classList.add("read");
      if (b) { b.remove(); }
    }).catch(function (e) { statusEl.textContent = "error: " + e.message; });
  }

  document.getElementById("read-all").addEventListener("click", function () {
    request("POST", "/read-all").then(function () {
      Array.prototype.forEach.call(list.querySelectorAll("li.unread"), function (li) {
        li.classList.remove("unread");
        li.classList.add("read");
        var b = li.querySelector("button.mark-read");
        if (b) { b.remove(); }
      });
      setUnread(0);
    });
  });

  moreBtn.addEventListener("click", function () { load(nextCursor); });

  // Live: the browser's EventSource reconnects by itself and sends
  // Last-Event-ID, so items that arrived meanwhile come then.
  // Starts after the newest item listed, so none is missed in between.
  function live() {
    var newest = 0;
    Array.prototype.forEach.call(list.children, function (li) {
      newest = Math.max(newest, Number(li.getAttribute("data-id")));
    });
    var es = new EventSource(api + "/stream" +
                             (newest ? "?last_event_id=" + newest : ""));
    es.addEventListener("open", function () { statusEl.textContent = "live"; });
    es.addEventListener("error", function () { statusEl.textContent = "reconnecting"; });
    es.addEventListener("notification", function (e) {
      var n = JSON.parse(e.data);
      if (document.getElementById("n-" + n.id)) { return; }
      list.insertBefore(item(n), list.firstChild);
      if (!n.is_read) { setUnread(unread + 1); }
    });
  }

  load(null).then(live, function (e) {
    statusEl.textContent = "error: " + e.message;
  });
}());
