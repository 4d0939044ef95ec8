"""The web face (docs/security.md, "The web face"), attacked as the web
domain's uid: what it hands the core as inbox requests (web.* outbox
events) is checked and applied, never queued; malformed or out-of-bounds
requests are refused and dead-lettered; the mail and login domains cannot
send them at all; and the core copies only inbox items and preferences
into the web store, never contacts."""
import json

import pytest

from secenv import USERS
from ghtest import wait_until


@pytest.fixture
def running(sec):
    sec.init()
    sec.start_notifyd()
    for d in ("mail", "web"):
        sec.start_bridge(d)
    return sec


def web_request(sec, type_, user, metadata, domain="web"):
    sec.gh("--domain", domain, "events", "enqueue", "--user", user,
           "--type", type_, "--title", "inbox request", "--metadata",
           json.dumps(metadata), user=USERS[domain])


def dead(sec, domain, n):
    return wait_until(lambda: len(sec.events(domain, "dead")) >= n and
                      sec.events(domain, "dead"), 20,
                      f"{n} dead-lettered requests in the {domain} outbox")


def test_web_requests_are_checked_then_applied(running):
    sec = running
    sec.gh("users", "set", "bob", "--email", "bob@example.org")
    eid = sec.gh("notify", "bob", "--channel", "inbox", "--title", "hi",
                 json_out=True)["id"]
    wait_until(lambda: sec.gh("inbox", "list", "bob", json_out=True), 20,
               "bob's item")
    # well-formed: applied to the core's records, never queued
    web_request(sec, "web.inbox_read", "bob", {"id": int(eid)})
    wait_until(lambda: sec.gh("inbox", "list", "bob",
                              json_out=True)[0]["read_at"], 20,
               "bob's item read")
    # refused: security off, unknown members, bad subscriptions, unknown
    # request types, recipients
    web_request(sec, "web.prefs", "bob",
                {"prefs": {"categories": {"security": "off"}}})
    web_request(sec, "web.prefs", "bob", {"prefs": {"v": 9}})
    web_request(sec, "web.push_add", "bob",
                {"subscription": {"endpoint": "http://10.0.0.1/x",
                                  "keys": {"p256dh": "AAAA",
                                           "auth": "AAAA"}}})
    web_request(sec, "web.make_admin", "bob", {})
    web_request(sec, "web.inbox_read", "bob", {"id": -1, "extra": 1})
    rows = dead(sec, "web", 5)
    reasons = " | ".join(r["q"]["last_error"] for r in rows)
    assert "security" in reasons, reasons
    assert "https" in reasons.lower() or "endpoint" in reasons, reasons
    assert "unknown web request" in reasons
    # none of it reached the core's queue or records
    assert not [e for e in sec.events() if e["type"].startswith("web.")]
    prefs = sec.gh("prefs", "show", "bob", json_out=True, check=False)
    assert not isinstance(prefs, dict) or \
        prefs.get("categories", {}).get("security") != "off"
    assert not sec.gh("users", "show", "bob", json_out=True).get("push")


def test_only_the_web_domain_sends_inbox_requests(running):
    sec = running
    sec.gh("notify", "carol", "--channel", "inbox", "--title", "x",
           json_out=True)
    items = wait_until(lambda: sec.gh("inbox", "list", "carol",
                                      json_out=True), 20, "carol's item")
    web_request(sec, "web.inbox_read_all", "carol", {}, domain="mail")
    rows = dead(sec, "mail", 1)
    assert "mail." in rows[0]["q"]["last_error"]
    assert not sec.gh("inbox", "list", "carol",
                      json_out=True)[0]["read_at"]
    assert items


def test_the_web_store_gets_inbox_and_prefs_never_contacts(running):
    sec = running
    sec.gh("users", "set", "dana", "--email", "dana@example.org",
           "--phone", "+15550100")
    sec.gh("prefs", "set", "dana", "--category", "social=off")
    sec.gh("notify", "dana", "--channel", "inbox", "--title", "copied",
           json_out=True)
    # as the web uid, reading its own store
    wait_until(lambda: sec.gh("--domain", "web", "inbox", "list", "dana",
                              json_out=True, user=USERS["web"]), 20,
               "the item in the web store's copy")
    p = sec.gh("--domain", "web", "prefs", "show", "dana", json_out=True,
               user=USERS["web"])
    assert p["categories"]["social"] == "off"
    u = sec.gh("--domain", "web", "users", "show", "dana",
               user=USERS["web"], check=False)
    assert u.returncode != 0 and "dana@example.org" not in u.stdout


# RFC 8291's sizes: a 65-byte P-256 point and a 16-byte secret, base64url
P256 = ("BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1Xb"
        "jhazAkj7I99e8QcYP7DkM")
AUTH = "tBHItJI5svbpez7KI4CCXg"


def as_dict(x):
    return x if isinstance(x, dict) else {}


def test_a_bad_request_never_stops_the_bridge(running):
    """Review finding 1: subscriptions padded inside `keys` once grew the
    user's contacts record past GH_RECORD_MAX; the error aborted the whole
    batch, the core closed the bridge, which sent the same batch again, for
    ever: nothing of the web domain's reached the core any more.  Now each
    is refused (dead-lettered) on its own and what follows is applied."""
    sec = running
    eid = sec.gh("notify", "bob", "--channel", "inbox", "--title", "hi",
                 json_out=True)["id"]
    wait_until(lambda: sec.gh("inbox", "list", "bob", json_out=True), 20,
               "bob's item")
    # what a worker would hand over for a 16 KiB POST body each
    for i in range(16):
        sub = {"endpoint": f"https://push.example.com/sub/{i:02d}",
               "keys": {"p256dh": P256, "auth": AUTH, "x": ""}}
        n = len(json.dumps(sub, separators=(",", ":")))
        sub["keys"]["x"] = "A" * (16384 - n)
        web_request(sec, "web.push_add", "bob", {"subscription": sub})
    web_request(sec, "web.inbox_read", "bob", {"id": int(eid)})
    wait_until(lambda: sec.gh("inbox", "list", "bob",
                              json_out=True)[0]["read_at"], 30,
               "bob's item read after the bad requests")
    rows = dead(sec, "web", 16)
    assert all("keys" in r["q"]["last_error"] for r in rows), rows
    assert "cannot commit" not in sec.log("notifyd")
    assert sec.gh("users", "show", "bob", check=False).returncode != 0
    # a well-formed one still goes through (bob is known: an item)
    web_request(sec, "web.push_add", "bob", {"subscription": {
        "endpoint": "https://push.example.com/ok",
        "keys": {"p256dh": P256, "auth": AUTH}}})
    wait_until(lambda: as_dict(sec.gh("users", "show", "bob", json_out=True,
                                      check=False)).get("push"), 20,
               "bob's subscription")


def test_requests_for_unknown_users_make_nothing(running):
    """Review finding 2: web.push_add and web.prefs for invented user ids
    made core records that nothing expires; a compromised worker could
    fill the core store.  Now only users the core knows (contacts,
    preferences or an inbox item) are changed; the rest are refused."""
    sec = running
    N = 10
    for i in range(N):
        web_request(sec, "web.push_add", f"ghost{i}", {"subscription": {
            "endpoint": f"https://push.example.com/{i}",
            "keys": {"p256dh": P256, "auth": AUTH}}})
        web_request(sec, "web.prefs", f"ghost{i}",
                    {"prefs": {"channels": {"sms": False}}})
    rows = dead(sec, "web", 2 * N)
    assert all("unknown user" in r["q"]["last_error"] for r in rows), rows
    for i in range(N):
        assert sec.gh("users", "show", f"ghost{i}",
                      check=False).returncode != 0
        p = sec.gh("prefs", "show", f"ghost{i}", json_out=True, check=False)
        assert not isinstance(p, dict) or not p.get("channels"), p
    # a user with an inbox item is known
    sec.gh("notify", "erin", "--channel", "inbox", "--title", "x",
           json_out=True)
    wait_until(lambda: sec.gh("inbox", "list", "erin", json_out=True), 20,
               "erin's item")
    web_request(sec, "web.prefs", "erin",
                {"prefs": {"channels": {"sms": False}}})
    wait_until(lambda: as_dict(sec.gh("prefs", "show", "erin", json_out=True,
                                      check=False)).get("channels"), 20,
               "erin's preferences")
