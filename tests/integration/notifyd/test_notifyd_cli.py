"""The gatehouse command's notification side: users, prefs, inbox, notify
and deliveries -- what they accept, refuse and print."""
import json


def test_users_set_show_list_delete(env):
    env.gh("users", "set", "alice", "--email", "alice@example.org", "--name",
           "Alice A.", "--phone", "+33612345678", "--tz", "Europe/Paris",
           "--chat", "ntfy=alice-topic")
    u = env.gh("users", "show", "alice", json_out=True)
    assert u["email"] == "alice@example.org" and u["tz"] == "Europe/Paris"
    assert u["chat"] == {"ntfy": "alice-topic"} and u["v"] == 1
    # changes merge; an empty chat value and --unset remove
    env.gh("users", "set", "alice", "--chat", "ntfy=", "--unset", "phone")
    u = env.gh("users", "show", "alice", json_out=True)
    assert "chat" not in u and "phone" not in u and u["name"] == "Alice A."
    text = env.gh("users", "show", "alice").stdout
    assert "alice@example.org" in text and "inbox:    0 items" in text
    env.gh("users", "set", "bob", "--email", "bob@example.org")
    assert [x["user"] for x in env.gh("users", "list", json_out=True)] == \
        ["alice", "bob"]
    env.gh("users", "delete", "bob")
    assert env.gh("users", "show", "bob", check=False).returncode == 1
    assert env.gh("users", "delete", "bob", check=False).returncode == 1


def test_users_set_refuses_bad_values(env):
    for args, why in ((["--email", "not-an-address"], "email"),
                      (["--phone", "12345"], "phone"),
                      (["--tz", "Mars/Olympus"], "time zone"),
                      (["--tz", "../etc/passwd"], "time zone")):
        p = env.gh("users", "set", "x", *args, check=False)
        assert p.returncode == 65, (args, p.stderr)
        assert why in p.stderr
    p = env.gh("users", "set", "x", "--push-add", "{nope", check=False)
    assert p.returncode == 64
    p = env.gh("users", "set", "x", "--push-add",
               '{"endpoint": "ftp://x", "keys": {"p256dh": "a", "auth": "b"}}',
               check=False)
    assert p.returncode == 65 and "endpoint" in p.stderr
    # Web Push endpoints are https only: notifyd would POST to them
    for ep in ("http://127.0.0.1:8080/push", "http://push.example/x"):
        p = env.gh("users", "set", "x", "--push-add", json.dumps(
            {"endpoint": ep, "keys": {"p256dh": "BAAA", "auth": "AAAA"}}),
            check=False)
        assert p.returncode == 65, p.stderr
        assert "push[0].endpoint must be an https:// URL" in p.stderr
    assert env.gh("users", "show", "x", check=False).returncode == 1


def test_prefs_set_show_and_refusals(env):
    env.gh("prefs", "set", "al", "--channel", "sms=off", "--channel",
           "push=on", "--category", "social=digest", "--quiet",
           "22:30-6:45", "--digest", "weekly:fri@17:00", "--digest-channel",
           "mail")
    p = env.gh("prefs", "show", "al", json_out=True)
    assert p["channels"] == {"sms": False, "push": True}
    assert p["quiet"] == {"start": "22:30", "end": "6:45"}
    assert p["digest"] == {"at": "17:00", "every": "weekly", "day": "fri",
                           "channels": ["mail"]}
    env.gh("prefs", "set", "al", "--digest", "daily@08:00", "--quiet", "off",
           "--channel", "sms=default")
    p = env.gh("prefs", "show", "al", json_out=True)
    assert "quiet" not in p and p["channels"] == {"push": True}
    assert p["digest"]["every"] == "daily" and "day" not in p["digest"]
    text = env.gh("prefs", "show", "al").stdout
    assert "social=digest" in text and "daily at 08:00 via mail" in text
    for args in (["--quiet", "25:00-07:00"], ["--digest", "daily@8"],
                 ["--channel", "sms=maybe"], ["--category", "social"]):
        assert env.gh("prefs", "set", "al", *args,
                      check=False).returncode == 64, args
    p = env.gh("prefs", "set", "al", "--digest", "weekly:xyz@8:00",
               check=False)
    assert p.returncode == 65 and "digest.day" in p.stderr
    p = env.gh("prefs", "set", "al", "--category", "security=digest",
               check=False)
    assert p.returncode == 65 and "security" in p.stderr


def test_notify_and_inbox(env):
    p = env.gh("notify", "al", "--type", "app.x", check=False)
    assert p.returncode == 65 and "title" in p.stderr
    assert env.gh("notify", "al", "--title", "x", "--priority", "7",
                  check=False).returncode == 64
    eid = env.notify("al", "Backup done", "backup.done", "--message", "ok",
                     "--priority", "low", "--channel", "inbox",
                     "--action-url", "https://example.org/b", "--expires",
                     "2h")
    ev = env.event(eid)
    assert ev["user"] == "al" and ev["source"] == "cli"
    assert ev["priority"] == 1 and ev["channels"] == ["inbox"]
    assert ev["expires_at"] - ev["created_at"] == 2 * 3600 * 1000
    env.start()
    env.wait_state(eid)
    env.stop()
    items = env.gh("inbox", "list", "al", "--unread", json_out=True)
    assert [i["event"] for i in items] == [eid]
    assert env.gh("inbox", "read", "al", "--all").stdout.strip() == \
        "1 marked read"
    assert env.gh("inbox", "list", "al", "--unread", json_out=True) == []
    assert env.gh("inbox", "read", "al", "999", check=False).returncode == 1
    rows = env.gh("deliveries", "list").stdout
    assert f"{eid}" in rows and "inbox" in rows and "delivered" in rows
    assert env.gh("deliveries", "list", "--event", eid, json_out=True)[0][
        "idempotency_key"] == f"{eid}:inbox:al"
