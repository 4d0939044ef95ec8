"""Preferences, quiet hours, digests and routes, with notifyd's clock
injected through GATEHOUSE_TEST_CLOCK (the test build only): time moves by
writing a file, never by sleeping."""
import datetime
import email
import email.policy
import json
import os
import pwd
import shutil
import subprocess
import time
from zoneinfo import ZoneInfo

import pytest

from nd_support import NOTIFYD, wait_until


def ms(dt):
    return int(dt.timestamp() * 1000)


def local(tz, days, hh, mm):
    """A wall-clock time some days from now in zone tz (always in the
    future, so events enqueued now are already due)."""
    z = ZoneInfo(tz)
    d = datetime.datetime.now(z).date() + datetime.timedelta(days=days)
    return datetime.datetime(d.year, d.month, d.day, hh, mm, tzinfo=z)


def channels(smtp, http=None):
    text = (f"[channel.mail]\ntype = smtp\nurl = {smtp.url()}\n"
            f"from = notify@example.org\nstarttls = no\n\n")
    if http:
        text += (f"[channel.ops]\ntype = webhook\nurl = {http.url('/ops')}\n\n"
                 f"[channel.push]\ntype = ntfy\nurl = {http.url('/ntfy/')}\n"
                 f"topic = t\n\n")
    return text


def test_quiet_hours_cross_midnight_in_users_zone(env, smtp_sink, http_sink):
    tz = "Europe/Paris"
    env.write_conf(channels(smtp_sink, http_sink),
                   notifyd="default_channels = mail inbox push ops\n")
    env.gh("users", "set", "alice", "--email", "alice@example.org", "--tz", tz)
    env.gh("prefs", "set", "alice", "--quiet", "22:00-07:00")
    night = local(tz, 3, 23, 30)
    morning = local(tz, 4, 7, 0)
    env.start(clock=ms(night))
    eid = env.notify("alice", "At night")
    wait_until(lambda: env.deliveries(eid).get(("mail", "alice@example.org"),
               {}).get("state") == "deferred", 20, "mail deferred")
    d = env.deliveries(eid)
    m = d[("mail", "alice@example.org")]
    assert m["next_at"] == ms(morning)
    assert m["attempts"] == 0 and "quiet hours" in m["reason"]
    assert d[("push", "alice")]["state"] == "deferred"     # push waits too
    assert d[("inbox", "alice")]["state"] == "delivered"   # the inbox does not
    assert d[("ops", "alice")]["state"] == "delivered"     # nor a webhook
    assert env.event(eid)["q"]["due_at"] == ms(morning)
    assert env.event(eid)["q"]["attempts"] == 0
    # urgent goes through at once
    urgent = env.notify("alice", "Fire", "app.x", "--priority", "urgent")
    env.wait_state(urgent)
    assert [json.loads(r["body"])["title"] for r in http_sink.got("/ntfy")] \
        == ["Fire"]
    # a minute before the end: still quiet
    env.set_clock(ms(morning) - 60000)
    time.sleep(0.5)
    assert len(smtp_sink.got()) == 1
    env.set_clock(ms(morning))
    env.wait_state(eid)
    assert len(smtp_sink.got()) == 2
    assert env.deliveries(eid)[("mail", "alice@example.org")]["state"] == \
        "delivered"
    env.stop()


def test_quiet_hours_outside_window_send_at_once(env, smtp_sink):
    tz = "America/New_York"
    env.write_conf(channels(smtp_sink), notifyd="default_channels = mail\n")
    env.gh("users", "set", "bo", "--email", "bo@example.org", "--tz", tz)
    env.gh("prefs", "set", "bo", "--quiet", "22:00-07:00")
    env.start(clock=ms(local(tz, 3, 12, 0)))
    eid = env.notify("bo")
    env.wait_state(eid)
    assert len(smtp_sink.got()) == 1
    env.stop()


def test_digest_daily_gathers_and_nothing_when_nothing(env, smtp_sink):
    tz = "Asia/Seoul"
    env.write_conf(channels(smtp_sink), notifyd="default_channels = mail inbox\n")
    env.gh("users", "set", "cho", "--email", "cho@example.org", "--tz", tz)
    env.gh("prefs", "set", "cho", "--category", "social=digest",
           "--digest", "daily@08:00")
    t0 = local(tz, 3, 10, 0)
    slot = local(tz, 4, 8, 0)
    env.start(clock=ms(t0))
    a = env.notify("cho", "Dana liked your photo", "social.like",
                   "--category", "social")
    b = env.notify("cho", "Eli commented", "social.comment",
                   "--category", "social", "--message", "Nice one!")
    other = env.notify("cho", "Invoice ready", "billing.invoice")
    for e in (a, b, other):
        env.wait_state(e)
    for e in (a, b):
        h = env.deliveries(e)[("@digest", "cho")]
        assert h["state"] == "held"
        assert "digest of " + slot.strftime("%Y-%m-%d 08:00") in h["reason"]
        assert ("mail", "cho@example.org") not in env.deliveries(e)
    assert len(smtp_sink.got()) == 1          # only the invoice
    items = env.gh("inbox", "list", "cho", json_out=True)
    assert {i["event"] for i in items if i["digest"]} == {a, b}
    def deferred_digest():
        d = [x for x in env.gh("events", "list", "--state", "ready",
                               json_out=True) if x["type"] == "digest"]
        return d and d[0]["q"]["leases"] > 0 and d

    digests = wait_until(deferred_digest, 20, "the digest to be deferred")
    assert len(digests) == 1
    assert digests[0]["q"]["due_at"] == ms(slot)
    # at 08:00 one mail with both
    env.set_clock(ms(slot))
    env.wait_state(digests[0]["id"])
    wait_until(lambda: len(smtp_sink.got()) == 2, 20, "the digest mail")
    msg = email.message_from_bytes(smtp_sink.got()[1]["data"],
                                   policy=email.policy.default)
    assert msg["Subject"] == "2 new notifications"
    text = msg.get_body(("plain",)).get_content()
    assert "Dana liked your photo" in text and "Eli commented" in text
    assert "Nice one!" in text
    assert text.index("Dana") < text.index("Eli")
    items = env.gh("inbox", "list", "cho", json_out=True)
    assert all(i["digested_at"] for i in items if i["digest"])
    # one more, read before its digest: nothing is sent
    later = env.notify("cho", "Fay followed you", "social.follow",
                       "--category", "social")
    env.wait_state(later)
    env.gh("inbox", "read", "cho", later)
    nxt = wait_until(deferred_digest, 20, "the next digest to be deferred")
    assert len(nxt) == 1 and nxt[0]["q"]["due_at"] == ms(slot) + 86400000
    env.set_clock(ms(slot) + 86400000)
    env.wait_state(nxt[0]["id"])
    d = env.deliveries(nxt[0]["id"])
    assert d[("@digest", "cho")]["state"] == "skipped"
    assert d[("@digest", "cho")]["reason"] == "nothing to send"
    assert len(smtp_sink.got()) == 2
    env.stop()


def test_weekly_digest_schedule(env, smtp_sink):
    tz = "UTC"
    env.write_conf(channels(smtp_sink), notifyd="default_channels = mail\n")
    env.gh("users", "set", "wk", "--email", "wk@example.org")
    env.gh("prefs", "set", "wk", "--category", "marketing=digest",
           "--digest", "weekly:mon@09:30")
    t0 = local(tz, 3, 12, 0)
    days = (0 - t0.weekday()) % 7 or 7      # next Monday after t0
    slot = (t0 + datetime.timedelta(days=days)).replace(hour=9, minute=30)
    env.start(clock=ms(t0))
    e = env.notify("wk", "Sale", "shop.sale", "--category", "marketing")
    env.wait_state(e)

    def deferred_digest():
        d = [x for x in env.gh("events", "list", "--state", "ready",
                               json_out=True) if x["type"] == "digest"]
        return d and d[0]["q"]["leases"] > 0 and d

    d = wait_until(deferred_digest, 20, "the digest to be deferred")
    assert d[0]["q"]["due_at"] == ms(slot)
    env.stop()


def test_categories_opt_in_and_security(env, smtp_sink):
    env.write_conf(channels(smtp_sink),
                   notifyd="default_channels = mail inbox\n"
                           "security_channels = mail\n")
    env.gh("users", "set", "dan", "--email", "dan@example.org")
    # security can never be turned off
    p = env.gh("prefs", "set", "dan", "--category", "security=off", check=False)
    assert p.returncode == 65 and "cannot be turned off" in p.stderr
    env.gh("prefs", "set", "dan", "--channel", "mail=off", "--category",
           "social=off")
    env.start()
    mk = env.notify("dan", "Sale!", "shop.sale", "--category", "marketing")
    so = env.notify("dan", "Liked", "social.like", "--category", "social")
    sy = env.notify("dan", "Quota", "app.quota")
    se = env.notify("dan", "New sign-in", "login.new_host")
    for e in (mk, so, sy, se):
        env.wait_state(e)
    assert "marketing notifications off" in \
        env.deliveries(mk)[("@user", "dan")]["reason"]
    assert "social notifications off" in \
        env.deliveries(so)[("@user", "dan")]["reason"]
    sy_d = env.deliveries(sy)
    assert sy_d[("mail", "dan")]["state"] == "skipped"
    assert "turned mail off" in sy_d[("mail", "dan")]["reason"]
    assert sy_d[("inbox", "dan")]["state"] == "delivered"
    # security reaches mail although dan turned mail off
    assert env.deliveries(se)[("mail", "dan@example.org")]["state"] == \
        "delivered"
    assert [m["to"] for m in smtp_sink.got()] == [["dan@example.org"]]
    # opting in to marketing
    env.gh("prefs", "set", "dan", "--category", "marketing=on", "--channel",
           "mail=default")
    mk2 = env.notify("dan", "Sale 2", "shop.sale", "--category", "marketing")
    env.wait_state(mk2)
    assert env.deliveries(mk2)[("mail", "dan@example.org")]["state"] == \
        "delivered"
    show = env.gh("prefs", "show", "dan").stdout
    assert "marketing=on" in show and "social=off" in show
    env.stop()


def test_routes_admins_system_users_and_addresses(env, smtp_sink, http_sink):
    env.write_conf(
        channels(smtp_sink, http_sink) +
        "[route.pam-system]\ntypes = login.*\nuser_match = system\n"
        "users = admin\nchannels = ops\n\n"
        "[route.uploads]\ntypes = upload.infected\n"
        "addresses = mail:security@example.org\n",
        notifyd="default_channels = inbox\n")
    env.gh("users", "set", "admin", "--email", "admin@example.org")
    env.gh("users", "set", "alice", "--email", "alice@example.org")
    env.gh("prefs", "set", "admin", "--channel", "mail=on")
    env.start()
    sysev = env.notify("daemon", "Failed sign-ins", "login.failed_burst")
    usrev = env.notify("alice", "Failed sign-ins", "login.failed_burst")
    up = env.gh("events", "enqueue", "--type", "upload.infected", "--title",
                "Upload quarantined", "--recipient", "admins",
                json_out=True)["id"]
    orphan = env.gh("events", "enqueue", "--type", "disk.full", "--title",
                    "x", "--recipient", "admins", json_out=True)["id"]
    direct = env.gh("events", "enqueue", "--type", "app.x", "--title", "y",
                    "--recipient", "mail:someone@example.org",
                    json_out=True)["id"]
    for e in (sysev, usrev, up, orphan, direct):
        env.wait_state(e)
    d = env.deliveries(sysev)
    assert d[("ops", "*")]["state"] == "delivered"
    assert d[("mail", "admin@example.org")]["state"] == "delivered"
    assert d[("inbox", "daemon")]["state"] == "delivered"
    assert set(env.deliveries(usrev)) == {("inbox", "alice")}
    assert env.deliveries(up)[("mail", "security@example.org")]["state"] == \
        "delivered"
    # for the admins and no route takes it: admin_addresses (the default,
    # root@localhost), mailed through the mail channel
    assert {k: v["state"] for k, v in env.deliveries(orphan).items()} == \
        {("mail", "root@localhost"): "delivered"}
    assert env.deliveries(direct)[("mail", "someone@example.org")]["state"] \
        == "delivered"
    env.stop()


def test_admins_default_whatever_login_fallback_and_when_nobody(env,
                                                               smtp_sink):
    # login_fallback = none does not turn the admins' default off
    env.write_conf(channels(smtp_sink),
                   notifyd="default_channels = inbox\nlogin_fallback = none\n"
                           "admin_addresses = ops@example.org "
                           "boss@example.org\n")
    env.start()
    eid = env.gh("events", "enqueue", "--type", "mail.rate_limited",
                 "--title", "x", "--recipient", "admins", json_out=True)["id"]
    env.wait_state(eid)
    assert {k: v["state"] for k, v in env.deliveries(eid).items()} == {
        ("mail", "ops@example.org"): "delivered",
        ("mail", "boss@example.org"): "delivered"}
    assert sorted(m["to"][0] for m in smtp_sink.got()) == \
        ["boss@example.org", "ops@example.org"]
    env.stop()
    # no admin_addresses and no route: recorded, with why
    env.write_conf(channels(smtp_sink),
                   notifyd="default_channels = inbox\nadmin_addresses =\n")
    env.start()
    eid = env.gh("events", "enqueue", "--type", "mail.rate_limited",
                 "--title", "y", "--recipient", "admins", json_out=True)["id"]
    env.wait_state(eid)
    d = env.deliveries(eid)
    assert list(d) == [("@event", "admins")]
    assert "admin_addresses is empty" in d[("@event", "admins")]["reason"]
    env.stop()


@pytest.fixture
def local_account():
    """A real account with a uid of 1000 or more (useradd picks it), no
    home, removed at the end."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd")
    name = f"ghfb{os.getpid() % 100000}"
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        assert pwd.getpwnam(name).pw_uid >= 1000
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_login_fallback_local_mailbox_and_admins(env, smtp_sink, http_sink,
                                                 local_account):
    """Login alerts for users without contacts, with the defaults: a user's
    own account gets USER@localhost, root, system accounts and unknown
    names the admin_addresses (root@localhost) unless a route took the
    event; users with contacts, and other events, are left as they were."""
    me = local_account
    env.write_conf(
        channels(smtp_sink, http_sink) +
        "[route.bursts]\ntypes = login.failed_burst\nuser_match = system\n"
        "channels = ops\n",
        notifyd="default_channels = inbox\n")
    env.gh("users", "set", "alice", "--email", "alice@example.org")
    env.start()
    mine = env.notify(me, "New sign-in", "login.new_host")
    daemon = env.notify("daemon", "New sign-in", "login.new_host")
    stranger = env.notify("oracle-xyz", "Sign-in", "login.success")
    routed = env.notify("root", "Failed sign-ins", "login.failed_burst")
    alice = env.notify("alice", "New sign-in", "login.new_host")
    other = env.notify(me, "Quota", "app.quota")
    for e in (mine, daemon, stranger, routed, alice, other):
        env.wait_state(e)
    d = env.deliveries(mine)
    assert d[("mail", f"{me}@localhost")]["state"] == "delivered"
    assert d[("inbox", me)]["state"] == "delivered"
    assert env.deliveries(daemon)[("mail", "root@localhost")]["state"] == \
        "delivered"
    assert env.deliveries(stranger)[("mail", "root@localhost")]["state"] == \
        "delivered"
    # a route takes root's burst: the admins the configuration chose
    assert set(env.deliveries(routed)) == {("ops", "*"), ("inbox", "root")}
    assert set(env.deliveries(alice)) == {("inbox", "alice")}
    assert set(env.deliveries(other)) == {("inbox", me)}
    got = sorted((m["to"][0], email.message_from_bytes(
        m["data"], policy=email.policy.default)["Subject"])
        for m in smtp_sink.got())
    assert got == [(f"{me}@localhost", "New sign-in"),
                   ("root@localhost", "New sign-in"),
                   ("root@localhost", "Sign-in")]
    env.stop()


def test_login_fallback_admin_none_and_configuration(env, smtp_sink,
                                                     local_account):
    me = local_account
    env.write_conf(channels(smtp_sink), notifyd=(
        "default_channels = inbox\nlogin_fallback = admin\n"
        "admin_addresses = ops@example.org sec@example.org\n"))
    env.start()
    e1 = env.notify(me, "New sign-in", "login.new_host")
    env.wait_state(e1)
    assert {k for k in env.deliveries(e1) if k[0] == "mail"} == \
        {("mail", "ops@example.org"), ("mail", "sec@example.org")}
    env.stop()
    # none: nothing beyond the inbox
    env.write_conf(channels(smtp_sink), notifyd=(
        "default_channels = inbox\nlogin_fallback = none\n"))
    env.start()
    e2 = env.notify(me, "New sign-in", "login.new_host")
    e3 = env.notify("daemon", "New sign-in", "login.new_host")
    for e in (e2, e3):
        env.wait_state(e)
    assert set(env.deliveries(e2)) == {("inbox", me)}
    assert set(env.deliveries(e3)) == {("inbox", "daemon")}
    env.stop()
    assert len(smtp_sink.got()) == 2
    # the default channel missing: said at start, and on each event
    env.write_conf("", notifyd="default_channels = inbox\n")
    env.start()
    e4 = env.notify(me, "New sign-in", "login.new_host")
    env.wait_state(e4)
    note = env.deliveries(e4)[("@fallback", me)]
    assert note["state"] == "skipped" and \
        "no smtp channel mail" in note["reason"]
    assert "there is no smtp channel [channel.mail] to mail through" in \
        env.log_text()
    env.stop()
    # what the daemon refuses
    for bad, why in [
            ("login_fallback_channel = ops\n", "is a webhook channel"),
            ("login_fallback_channel = nosuch\n", "no channel named 'nosuch'"),
            ("admin_addresses = root@localhost not-an-address\n",
             "'not-an-address' is not a mail address")]:
        env.write_conf(channels(smtp_sink) +
                       "[channel.ops]\ntype = webhook\n"
                       "url = http://127.0.0.1:9/\n", notifyd=bad)
        p = subprocess.run([str(NOTIFYD), "-c", str(env.conf), "--check"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 78 and why in p.stderr, p.stderr
