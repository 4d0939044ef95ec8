"""Events that expire (expires_at, `gatehouse notify --expires`): never sent
once past it, settled as expired when they pass it rather than at their
next attempt, with delivery records, metrics and `events show` that say
so.  Real notifyd, real HTTP receivers."""
import json
import time

from nd_support import wait_until

SECRET = "whsec_expiry"


def hook(sink, path="/hook", backoff="1h"):
    return (f"[channel.hook]\ntype = webhook\nurl = {sink.url(path)}\n"
            f"secret = {SECRET}\nbackoff_base = {backoff}\n"
            f"backoff_cap = {backoff}\n")


def show_state_line(env, eid):
    text = env.gh("events", "show", eid).stdout
    return next(line for line in text.splitlines()
                if line.startswith("state:"))


def test_receiver_down_expires_at_expiry_not_next_retry(env, http_sink):
    # Retry-After: an hour (the backoff alone is jittered from zero)
    http_sink.set("/hook", "fail", status=503, retry_after=3600)
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n",
                   metrics=True)
    # and no polling to speak of: new events wake notifyd (inotify), and
    # it must wake by itself at the expiry of those it holds back
    env.conf.write_text(env.conf.read_text().replace(
        "poll_interval = 50ms", "poll_interval = 60s"))
    env.start()
    eid = env.notify("ada", "short-lived", "app.x", "--expires", "3s")
    wait_until(lambda: env.deliveries(eid).get(("hook", "ada"), {})
               .get("state") == "retry", 20, "the first failed attempt")
    d = env.deliveries(eid)[("hook", "ada")]
    # the next attempt would be an hour from now
    assert d["next_at"] > time.time() * 1000 + 1800_000, d
    assert env.state(eid) == "ready"
    # ... yet the event is settled when it expires, seconds from now
    env.wait_state(eid, ("expired",), timeout=20)
    assert time.time() * 1000 < d["next_at"]
    d = env.deliveries(eid)[("hook", "ada")]
    assert d["state"] == "expired", d
    assert "next_at" not in d
    assert d["attempts"] == 1
    assert "503" in d["last_error"]          # why it never got through
    assert len(http_sink.got("/hook")) == 1  # not sent again
    ev = env.event(eid)
    assert "expired" in ev["q"]["last_error"]
    assert ev["q"]["due_at"] is None
    # the admin's views agree
    rows = env.gh("deliveries", "list", "--state", "expired",
                  json_out=True)
    assert [(r["event"], r["channel"], r["state"]) for r in rows] == \
        [(eid, "hook", "expired")]
    line = show_state_line(env, eid)
    assert line.startswith("state:       expired, 1 attempt,"), line
    assert "due" not in line, line
    m = env.metrics()
    assert m['gatehouse_notifyd_expired_total{channel="hook"}'] == 1
    assert m['gatehouse_notifyd_events_total{outcome="expired"}'] == 1
    assert env.stop() == 0


def test_expires_1ms_is_never_sent(env, http_sink):
    # One slot on the channel, held by a slow request: events that expire
    # 1 ms after they are made cannot start before it ends, long past
    # their expiry, and must then never be sent.  (Without the slow
    # request one could legitimately start within its millisecond.)
    http_sink.set("/hook", "delay", delay=1.0)
    env.write_conf(hook(http_sink, backoff="100ms") + "concurrency = 1\n",
                   notifyd="default_channels = hook\n", metrics=True)
    env.start()
    slow = env.notify("bea", "takes a second", "app.x")
    wait_until(lambda: http_sink.got("/hook"), 20, "the slow request")
    ids = [env.notify("bea", f"now or never {i}", "app.x", "--expires",
                      "1ms") for i in range(5)]
    env.wait_state(slow)
    for eid in ids:
        env.wait_state(eid, ("expired", "done"))
    sent = [json.loads(r["body"])["id"] for r in http_sink.got("/hook")]
    assert sent == [slow], env.log_tail(30)
    for eid in ids:
        d = env.deliveries(eid)[("hook", "bea")]
        assert d["state"] == "expired" and d["attempts"] == 0, d
        line = show_state_line(env, eid)
        assert line.startswith("state:       expired, 0 attempts,"), line
        assert "due" not in line, line
    m = env.metrics()
    assert m['gatehouse_notifyd_expired_total{channel="hook"}'] == 5
    assert m['gatehouse_notifyd_delivered_total{channel="hook"}'] == 1
    assert env.stop() == 0


def test_expired_before_pickup_is_recorded(env, http_sink):
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n")
    eid = env.notify("cid", "stale", "app.x", "--expires", "1s")
    time.sleep(1.2)
    env.start()
    env.wait_state(eid, ("expired",))
    assert http_sink.got("/hook") == []
    d = env.deliveries(eid)[("hook", "cid")]
    assert d["state"] == "expired" and d["attempts"] == 0, d
    assert "expired" in env.event(eid)["q"]["last_error"]
    env.stop()


def test_finished_event_shows_no_due_and_the_deliveries_attempts(env,
                                                                 http_sink):
    http_sink.set("/hook", "fail", status=503, times=2)
    env.write_conf(hook(http_sink, backoff="100ms"),
                   notifyd="default_channels = hook\n")
    eid = env.notify("dot")
    env.start()
    env.wait_state(eid)
    assert env.deliveries(eid)[("hook", "dot")]["attempts"] == 3
    line = show_state_line(env, eid)
    assert line.startswith("state:       done, 3 attempts,"), line
    assert "due" not in line, line
    assert env.event(eid)["q"]["due_at"] is None
    env.stop()


def test_deferred_by_rate_limit_expires_at_expiry(env, http_sink):
    # one request an hour: the second event is deferred (no attempt) for
    # most of an hour, and expires long before that
    env.write_conf(hook(http_sink) + "rate = 1/h\n",
                   notifyd="default_channels = hook\n")
    env.start()
    first = env.notify("eve", "goes", "app.x")
    env.wait_state(first)
    late = env.notify("eve", "waits", "app.x", "--expires", "2s")
    wait_until(lambda: env.deliveries(late).get(("hook", "eve"), {})
               .get("state") == "deferred", 20, "the deferral")
    d = env.deliveries(late)[("hook", "eve")]
    assert d["next_at"] - d["updated_at"] > 10 * 60 * 1000, d
    env.wait_state(late, ("expired",), timeout=20)
    d = env.deliveries(late)[("hook", "eve")]
    assert d["state"] == "expired" and d["attempts"] == 0, d
    assert "rate limit" not in d.get("last_error", "")
    assert [json.loads(r["body"])["id"] for r in http_sink.got("/hook")] == \
        [first]
    env.stop()
