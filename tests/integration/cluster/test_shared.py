"""Shared data in the multi-host mode (docs/cluster.md, "Shared data"):
contacts, push subscriptions, preferences and the suppression list in the
PREFIX_users and PREFIX_suppress KV buckets, every notifyd's core store and
every mail host's mail store keeping a copy."""
import json
import time

from cl_support import wait_until


def sup(gh, domain=None):
    args = (["--domain", domain] if domain else []) + ["suppress", "list"]
    return sorted((e["address"], e.get("list") or "")
                  for e in gh.run(*args, json_out=True))


def metric(nd, name):
    try:
        return nd.metrics().get(name, 0)
    except OSError:   # not listening yet
        return 0


def up(nd):
    return wait_until(lambda: metric(nd, "gatehouse_shared_up") == 1, 60,
                      f"{nd.name}'s buckets")


def test_suppression_reaches_every_core_and_mail_store(world):
    a, b = world.notifyd("nda"), world.notifyd("ndb")
    mx = world.host("mx", domains=("mail",))
    a.start(), b.start(), mx.start()
    up(a), up(b)
    a.gh.run("suppress", "add", "Bob@Example.NET", "--reason", "asked")
    a.gh.run("suppress", "add", "carol@example.net", "--list", "news.x")
    want = [("bob@example.net", ""), ("carol@example.net", "news.x")]
    wait_until(lambda: sup(b.gh) == want, 30, "B's copy")
    wait_until(lambda: sup(mx.gh, "mail") == want, 30, "the mail store's copy")
    # removed on B: gone everywhere
    b.gh.run("suppress", "remove", "bob@example.net")
    wait_until(lambda: sup(a.gh) == want[1:], 30, "A's copy without bob")
    wait_until(lambda: sup(mx.gh, "mail") == want[1:], 30,
               "the mail store without bob")
    assert "Sanitizer" not in mx.bridges["mail"].text()
