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
