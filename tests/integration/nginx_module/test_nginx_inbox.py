"""The inbox API of the nginx module (gatehouse_inbox, docs/api.md) with
real parts: notifyd delivers to the inbox channel, the web bridge copies
the core's inbox into the web store, nginx (workers as the web domain's
uid) serves it, and what a user changes goes back to the core through the
outbox (docs/security.md, "The web face").  One test also runs the
single-store layout, where nginx reads and writes the core's store."""
import http.client
import json
import time

import pytest

from inbox_support import InboxWorld, Stream
from ghtest import wait_until

SUB = {"endpoint": "https://push.example.net/send/abc",
       "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlU"
                          "ls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                "auth": "tBHItJI5svbpez7KI4CCXg"},
       "expirationTime": None}


@pytest.fixture(scope="module")
def world():
    w = InboxWorld(split=True).start()
    yield w
    w.close()


def core_item(w, user, eid):
    for i in w.core_inbox(user):
        if int(i.get("event", i.get("id"))) == eid:
            return i
    return None


def test_list_read_and_read_all_reach_the_core(world):
    w = world
    a1 = w.notify("alice", "first")
    a2 = w.notify("alice", "urgent one", "--priority", "urgent")
    a3 = w.notify("alice", "third")
    for e in (a1, a2, a3):
        w.wait_delivered("alice", e)
    st, body = w.get("alice", "")
    assert st == 200
    ids = [n["id"] for n in body["notifications"]]
    # urgent first, then newest
    assert ids[:3] == [a2, a3, a1]
    assert body["unread_count"] == 3
    n = body["notifications"][0]
    assert n["title"] == "urgent one" and n["priority"] == 4
    assert n["is_read"] is False and n["read_at"] is None

    # a page and its cursor
    st, p1 = w.get("alice", "?limit=2")
    assert [n["id"] for n in p1["notifications"]] == [a2, a3]
    st, p2 = w.get("alice", "?limit=2&cursor=" + p1["next_cursor"])
    assert [n["id"] for n in p2["notifications"]] == [a1]
    assert p2["next_cursor"] is None

    st, r = w.request("POST", f"/{a3}/read", "alice")
    assert st == 200 and r == {"id": a3, "is_read": True}
    st, body = w.get("alice", "?unread_only=true")
    assert [n["id"] for n in body["notifications"]] == [a2, a1]
    assert body["unread_count"] == 2
    # the request went to the core, which marked its own item read
    wait_until(lambda: core_item(w, "alice", a3)["read_at"], 20,
               "the core to mark the item read")
    assert core_item(w, "alice", a1)["read_at"] is None

    st, r = w.request("POST", "/read-all", "alice")
    assert st == 200 and r["marked"] == 2
    wait_until(lambda: all(i["read_at"] for i in w.core_inbox("alice")), 20,
               "the core to mark every item read")


def test_read_marks_made_by_the_cli_reach_the_web(world):
    w = world
    e = w.notify("carol", "from the core")
    w.wait_delivered("carol", e)
    w.sec.gh("inbox", "read", "carol", str(e))
    wait_until(lambda: w.get("carol", "")[1]["notifications"][0]["is_read"],
               20, "the read mark to reach the web store")


def test_users_see_and_change_only_their_own(world):
    w = world
    mine = w.notify("dave", "dave's secret")
    w.wait_delivered("dave", mine)
    st, body = w.get("eve", "")
    assert st == 200
    assert all(n["id"] != mine for n in body["notifications"])
    # another user's item is "not found", like one that does not exist
    st, r = w.request("POST", f"/{mine}/read", "eve")
    assert st == 404 and r["error"] == "not_found"
    st, r2 = w.request("POST", "/99999999/read", "eve")
    assert st == 404 and r2 == r
    w.request("POST", "/read-all", "eve")
    time.sleep(1)
    assert core_item(w, "dave", mine)["read_at"] is None
    assert w.get("dave", "")[1]["notifications"][0]["is_read"] is False


def test_no_user_is_401_and_bad_input_400(world):
    w = world
    st, r = w.get(None, "")
    assert st == 401 and r["error"] == "unauthenticated"
    st, r = w.request("POST", "/read-all", "")
    assert st == 401
    assert w.get("alice", "?limit=0")[1]["error"] == "bad_limit"
    assert w.get("alice", "?limit=abc")[0] == 400
    assert w.get("alice", "?cursor=zz")[1]["error"] == "bad_cursor"
    assert w.get("alice", "?unread_only=maybe")[0] == 400
    assert w.get("alice", "/nothing-here")[0] == 404
    assert w.request("DELETE", "", "alice")[0] == 405
    assert w.request("GET", "/1/read", "alice")[0] == 405


def test_preferences(world):
    w = world
    st, p = w.get("frank", "/preferences")
    assert st == 200 and p == {}
    # nothing of frank's yet: the core would refuse (docs/security.md)
    st, r = w.request("PUT", "/preferences", "frank", {"channels": {}})
    assert st == 404 and r["error"] == "unknown_user", r
    w.wait_delivered("frank", w.notify("frank", "welcome"))
    prefs = {"categories": {"marketing": "off", "social": "digest"},
             "quiet": {"start": "22:00", "end": "07:00"},
             "digest": {"every": "daily", "at": "08:00"},
             "channels": {"email": False}}
    st, r = w.request("PUT", "/preferences", "frank", prefs)
    assert st == 200, r
    st, p = w.get("frank", "/preferences")
    assert {k: p[k] for k in prefs} == prefs
    # the core has them, as notifyd honours them
    wait_until(lambda: w.sec.gh("prefs", "show", "frank", json_out=True,
                                check=False), 20, "the core's copy")
    core = w.sec.gh("prefs", "show", "frank", json_out=True)
    assert core["categories"] == prefs["categories"]
    # only the known fields, well-formed
    for bad in ({"categories": {"security": "off"}},
                {"colour": "blue"},
                {"quiet": {"start": "25:00", "end": "07:00"}},
                {"v": 7}):
        st, r = w.request("PUT", "/preferences", "frank", bad)
        assert st == 400 and r["error"] == "bad_preferences", (bad, r)
    st, r = w.request("PUT", "/preferences", "frank", "not json")
    assert st == 400 and r["error"] == "bad_json"
    # prefs set with the CLI reach the web copy
    w.sec.gh("prefs", "set", "frank", "--category", "social=on")
    wait_until(lambda: w.get("frank", "/preferences")[1]
               .get("categories", {}).get("social") == "on", 20,
               "the CLI's change in the web copy")


def test_push_subscriptions(world):
    w = world
    st, r = w.request("POST", "/push-subscriptions", "gina", SUB)
    assert st == 404 and r["error"] == "unknown_user", r
    w.wait_delivered("gina", w.notify("gina", "welcome"))
    st, r = w.request("POST", "/push-subscriptions", "gina", SUB)
    assert st == 201 and r["subscribed"] is True

    def core_push():
        p = w.sec.gh("users", "show", "gina", json_out=True, check=False)
        return p.get("push") if isinstance(p, dict) else None
    wait_until(core_push, 20, "the subscription in the core")
    assert core_push()[0]["endpoint"] == SUB["endpoint"]
    for bad in ({"endpoint": "http://push.example.net/x",
                 "keys": SUB["keys"]},
                {"endpoint": SUB["endpoint"]},
                {"endpoint": SUB["endpoint"], "keys": {"p256dh": "!!",
                                                       "auth": "x"}},
                {"endpoint": SUB["endpoint"],
                 "keys": {"p256dh": SUB["keys"]["p256dh"][:-1],
                          "auth": SUB["keys"]["auth"]}},
                {"endpoint": "https://x/" + "a" * 2040,
                 "keys": SUB["keys"]}):
        st, r = w.request("POST", "/push-subscriptions", "gina", bad)
        assert st == 400 and r["error"] == "bad_subscription", (bad, r)
    st, r = w.request("DELETE", "/push-subscriptions", "gina",
                      {"endpoint": SUB["endpoint"]})
    assert st == 200 and r["subscribed"] is False
    wait_until(lambda: not core_push(), 20, "the subscription removed")


def test_sse_new_item_and_resume(world):
    w = world
    first = w.notify("henry", "before the stream")
    w.wait_delivered("henry", first)
    s = Stream(w.port, "henry")
    assert s.status == 200
    assert b"text/event-stream" in s.headers
    other = Stream(w.port, "ivan")
    t0 = time.monotonic()
    eid = w.notify("henry", "live one")
    ev = s.event(timeout=30)
    latency = time.monotonic() - t0
    assert ev is not None, "no event within 30 s"
    assert int(ev["id"]) == eid and ev["event"] == "notification"
    assert ev["data"]["title"] == "live one"
    print(f"\nSSE: notify to event {latency * 1000:.0f} ms (CLI, notifyd, "
          "bridge, nginx)")
    # another user's stream gets nothing of henry's
    assert other.event(timeout=1) is None
    other.close()
    s.close()

    # missed while disconnected: replayed after Last-Event-ID, in order
    m1 = w.notify("henry", "missed 1")
    m2 = w.notify("henry", "missed 2")
    w.wait_delivered("henry", m2)
    s = Stream(w.port, "henry", last_event_id=eid)
    got = [s.event(timeout=10), s.event(timeout=10)]
    assert [int(g["id"]) for g in got] == [m1, m2]
    assert s.event(timeout=0.5) is None
    s.close()


def test_a_new_web_store_gets_what_the_core_has():
    """Items and preferences made before the web bridge ever connected
    (an upgrade, a new web store) reach the web face: the core sends a
    whole copy first, then the changes."""
    w = InboxWorld(split=True)
    try:
        w.sec.start_notifyd()
        e = w.notify("olga", "from before")
        wait_until(lambda: w.core_inbox("olga"), 20, "olga's item")
        w.sec.gh("prefs", "set", "olga", "--category", "social=off")
        w.start(notifyd=False)
        w.wait_delivered("olga", e)
        assert w.get("olga", "/preferences")[1]["categories"] == \
            {"social": "off"}
        e2 = w.notify("olga", "after")
        w.wait_delivered("olga", e2)
    finally:
        w.close()


def test_sse_needs_a_user_and_caps_streams():
    w = InboxWorld(split=True, streams=" streams=2").start()
    try:
        assert Stream(w.port, "").status == 401
        a, b = Stream(w.port, "u1"), Stream(w.port, "u2")
        c = Stream(w.port, "u3")
        assert c.status == 503
        a.close()
        wait_until(lambda: Stream(w.port, "u4").status == 200, 10,
                   "a slot after a stream closed")
        b.close()
    finally:
        w.close()


def test_single_store_layout():
    """No web store: nginx (as the core store's owner) reads and marks
    the core's inbox directly, and the stream is woken by notifyd's own
    commit."""
    w = InboxWorld(split=False).start()
    try:
        e = w.notify("jack", "one store")
        w.wait_delivered("jack", e)
        s = Stream(w.port, "jack")
        e2 = w.notify("jack", "live")
        ev = s.event(timeout=30)
        assert ev is not None and int(ev["id"]) == e2
        s.close()
        st, r = w.request("POST", f"/{e}/read", "jack")
        assert st == 200
        assert core_item(w, "jack", e)["read_at"]
        # nothing queued as a "web." request in a single store
        assert not [x for x in w.sec.events() if
                    x["type"].startswith("web.")]
    finally:
        w.close()


def test_a_user_cannot_stop_web_requests(world):
    """Review finding 1 through HTTP: 16 POSTs of 16 KiB subscriptions
    padded inside `keys` once made the core abort every batch of the web
    domain's requests for ever.  Now nginx refuses the member (naming it)
    and everyone's changes still reach the core."""
    w = world
    eid = w.notify("victim", "hello")
    w.wait_delivered("victim", eid)
    w.wait_delivered("mallory", w.notify("mallory", "hello"))
    for i in range(16):
        sub = {"endpoint": f"https://push.example.com/sub/{i:02d}",
               "keys": dict(SUB["keys"], x="")}
        n = len(json.dumps(sub, separators=(",", ":")))
        sub["keys"]["x"] = "A" * (16384 - n)
        st, r = w.request("POST", "/push-subscriptions", "mallory",
                          json.dumps(sub, separators=(",", ":")))
        assert st == 400 and r["error"] == "bad_subscription", r
        assert "keys.x" in r["message"], r
    # a member's name cut inside a character in the message: still JSON
    st, r = w.request("POST", "/push-subscriptions", "mallory",
                      json.dumps({"endpoint": "https://push.example.com/u",
                                  "keys": dict(SUB["keys"], **{
                                      "x" + "\u00e9" * 100: ""})},
                                 ensure_ascii=False).encode())
    assert st == 400 and r["error"] == "bad_subscription", r
    st, r = w.request("POST", f"/{eid}/read", "victim")
    assert st == 200, r
    wait_until(lambda: core_item(w, "victim", eid)["read_at"], 20,
               "the victim's read mark in the core")
    assert "cannot commit" not in w.sec.log("notifyd")


def test_error_messages_are_utf8_json_never_html(world):
    """Review finding 5: an unknown preference of 150 x 'é' made a message
    cut inside a character; the JSON answer failed and nginx sent its own
    HTML 500, without Cache-Control: no-store."""
    w = world
    w.wait_delivered("ulla", w.notify("ulla", "hello"))
    for body in ({"\u00e9" * 150: 1},
                 {"channels": {"x" * 10 + "\u00e9" * 100: 1}},
                 {"categories": {"\u00e9" * 100: "maybe"}}):
        raw = json.dumps(body, ensure_ascii=False).encode()
        c = http.client.HTTPConnection("127.0.0.1", w.port, timeout=30)
        c.request("PUT", "/api/notifications/preferences", body=raw,
                  headers={"X-User": "ulla",
                           "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        assert r.status == 400, (r.status, data[:200])
        assert r.getheader("Content-Type", "").startswith(
            "application/json"), r.getheader("Content-Type")
        assert r.getheader("Cache-Control") == "no-store"
        j = json.loads(data.decode("utf-8"))
        assert j["error"] == "bad_preferences", j


def test_streams_per_user():
    """Review finding 4: one user could hold every stream of a worker."""
    w = InboxWorld(split=True,
                   streams=" streams=10 streams_per_user=2").start()
    try:
        a, b = Stream(w.port, "u1"), Stream(w.port, "u1")
        assert a.status == 200 and b.status == 200
        c = Stream(w.port, "u1")
        assert c.status == 429, c.status
        if b"too_many_streams" not in c.buf:
            c._fill(5)
        assert b"too_many_streams" in c.buf, c.buf
        c.close()
        # another user still gets one
        d = Stream(w.port, "u2")
        assert d.status == 200
        a.close()
        wait_until(lambda: Stream(w.port, "u1").status == 200, 10,
                   "u1's slot after a stream closed")
        b.close()
        d.close()
    finally:
        w.close()
