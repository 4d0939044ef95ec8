"""gatehouse-notifyd end to end with a webhook sink and the inbox: what is
sent, how it is signed, what is recorded, retries, dead letters, breakers,
rate limits, priorities, reloads and stops."""
import hashlib
import hmac
import json
import signal
import socket
import time

from nd_support import wait_until

SECRET = "whsec_integration"


def hook(sink, name="hook", path="/hook", extra=""):
    backoff = ("" if "backoff_base" in extra else
               "backoff_base = 100ms\nbackoff_cap = 200ms\n")
    return (f"[channel.{name}]\ntype = webhook\nurl = {sink.url(path)}\n"
            f"secret = {SECRET}\n{backoff}{extra}\n")


def verify(req):
    ts = req["headers"]["x-gatehouse-timestamp"]
    sig = req["headers"]["x-gatehouse-signature"]
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + req["body"],
                   hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig, "sha256=" + mac), "bad signature"
    assert abs(int(ts) - time.time()) < 300


def test_webhook_signed_recorded_and_inbox(env, http_sink):
    env.write_conf(hook(http_sink),
                   notifyd="default_channels = hook inbox\n")
    env.gh("users", "set", "alice", "--email", "alice@example.org")
    eid = env.notify("alice", "New sign-in", "login.new_host",
                     "--message", "from 192.0.2.7", "--metadata",
                     '{"ip": "192.0.2.7"}', "--action-url",
                     "https://example.org/sessions")
    env.start()
    env.wait_state(eid)
    reqs = http_sink.got("/hook")
    assert len(reqs) == 1
    r = reqs[0]
    verify(r)
    body = json.loads(r["body"])
    assert body["id"] == eid
    assert body["type"] == "login.new_host"
    assert body["category"] == "security"
    assert body["user"] == "alice"
    assert body["metadata"] == {"ip": "192.0.2.7"}
    assert body["idempotency_key"] == f"{eid}:hook:alice"
    assert r["headers"]["idempotency-key"] == f"{eid}:hook:alice"
    assert r["headers"]["x-gatehouse-event"] == str(eid)
    assert r["headers"]["content-type"] == "application/json"
    # a tampered body does not verify
    bad = dict(r, body=r["body"].replace(b"alice", b"mallory"))
    try:
        verify(bad)
        raise AssertionError("tampered body verified")
    except AssertionError as e:
        assert "bad signature" in str(e)
    d = env.deliveries(eid)
    assert d[("hook", "alice")]["state"] == "delivered"
    assert d[("hook", "alice")]["http_status"] == 200
    assert d[("inbox", "alice")]["state"] == "delivered"
    inbox = env.gh("inbox", "list", "alice", json_out=True)
    assert [i["event"] for i in inbox] == [eid]
    assert inbox[0]["title"] == "New sign-in"
    # events show reads well: one line per channel with its state
    text = env.gh("events", "show", eid).stdout
    assert '"channel":"hook","recipient":"alice","state":"delivered"' in text
    assert env.stop() == 0


def test_retry_then_deliver_with_retry_after(env, http_sink):
    http_sink.set("/hook", "fail", status=503, times=2, retry_after=1)
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n")
    eid = env.notify("bob")
    env.start()
    env.wait_state(eid)
    reqs = http_sink.got("/hook")
    assert [r["status"] for r in reqs] == [503, 503, 200]
    # the same idempotency key on every attempt, a fresh signature each time
    assert len({r["headers"]["idempotency-key"] for r in reqs}) == 1
    for r in reqs:
        verify(r)
    # Retry-After (1 s) was honoured over the 100-200 ms backoff
    assert reqs[1]["time"] - reqs[0]["time"] >= 0.9
    d = env.deliveries(eid)[("hook", "bob")]
    assert d["state"] == "delivered"
    assert d["attempts"] == 3
    ev = env.event(eid)
    assert ev["q"]["attempts"] == 2
    assert "HTTP 503" in ev["q"]["last_error"]
    env.stop()


def test_permanent_and_exhausted_failures_dead_letter(env, http_sink):
    http_sink.set("/gone", "fail", status=410)
    http_sink.set("/down", "fail", status=500)
    http_sink.set("/drop", "drop")
    env.write_conf(hook(http_sink, "gone", "/gone") +
                   hook(http_sink, "down", "/down", "max_attempts = 3\n"
                        "breaker_threshold = 100\n") +
                   hook(http_sink, "drop", "/drop", "max_attempts = 2\n"
                        "breaker_threshold = 100\n"))
    a = env.notify("carol", "a", "app.a", "--channel", "gone")
    b = env.notify("carol", "b", "app.b", "--channel", "down")
    c = env.notify("carol", "c", "app.c", "--channel", "drop")
    env.start()
    for eid in (a, b, c):
        env.wait_state(eid, ("dead",))
    assert len(http_sink.got("/gone")) == 1        # 410: never retried
    assert len(http_sink.got("/down")) == 3        # max_attempts
    # libcurl itself resends once when a reused connection turns out dead
    assert 2 <= len(http_sink.got("/drop")) <= 4
    da = env.deliveries(a)[("gone", "carol")]
    assert da["state"] == "dead" and da["attempts"] == 1
    assert "HTTP 410" in da["last_error"]
    db = env.deliveries(b)[("down", "carol")]
    assert db["state"] == "dead" and db["attempts"] == 3
    assert "gave up after 3 attempts" in db["last_error"]
    assert "HTTP 500" in db["last_error"]
    dc = env.deliveries(c)[("drop", "carol")]
    assert dc["attempts"] == 2
    assert "curl:" in dc["last_error"]
    assert "gone -> carol" in env.event(a)["q"]["last_error"]
    failed = env.gh("deliveries", "list", "--failed", json_out=True)
    assert {f["event"] for f in failed} == {a, b, c}
    only = env.gh("deliveries", "list", "--failed", "--channel", "down",
                  json_out=True)
    assert [f["event"] for f in only] == [b]
    # an admin's retry tries the dead delivery again
    http_sink.set("/gone", "ok")
    env.gh("events", "retry", a)
    env.wait_state(a)
    assert env.deliveries(a)[("gone", "carol")]["state"] == "delivered"
    env.stop()


def test_breaker_opens_and_does_not_hold_back_others(env, http_sink):
    http_sink.set("/slack", "fail", status=503)
    env.write_conf(hook(http_sink, "slack", "/slack",
                        "breaker_threshold = 2\nbreaker_cooldown = 1h\n"
                        "backoff_base = 10ms\nbackoff_cap = 20ms\n"
                        "concurrency = 1\n") +
                   hook(http_sink, "mail", "/mail"),
                   notifyd="default_channels = slack mail\n", metrics=True)
    ids = [env.notify("dave", f"n{i}") for i in range(4)]
    env.start()
    for eid in ids:
        wait_until(lambda: env.deliveries(eid).get(("mail", "dave"), {})
                   .get("state") == "delivered", 30, "mail deliveries")
    # only the first two reached the dead receiver; the rest wait for the
    # breaker's cool-down without an attempt
    wait_until(lambda: all(env.deliveries(e)[("slack", "dave")]["state"] ==
                           "deferred" or
                           env.deliveries(e)[("slack", "dave")]["attempts"]
                           for e in ids), 20, "slack records")
    assert len(http_sink.got("/slack")) == 2
    deferred = [env.deliveries(e)[("slack", "dave")] for e in ids]
    assert sum(1 for d in deferred if d["state"] == "deferred" and
               "circuit breaker" in d["reason"]) >= 2
    m = env.metrics()
    assert m['gatehouse_notifyd_breaker_state{channel="slack"}'] == 1
    assert m['gatehouse_notifyd_breaker_state{channel="mail"}'] == 0
    assert m['gatehouse_notifyd_delivered_total{channel="mail"}'] == 4
    assert m['gatehouse_notifyd_failed_total{channel="slack"}'] == 2
    assert m['gatehouse_notifyd_deferred_total{channel="slack",'
             'reason="breaker"}'] >= 2
    env.stop()


def test_rate_limit_defers_without_attempts(env, http_sink):
    env.write_conf(hook(http_sink, "sms", "/sms", "rate = 2/h\n"),
                   notifyd="default_channels = sms\n")
    ids = [env.notify("erin", f"n{i}") for i in range(4)]
    env.start()
    wait_until(lambda: len(http_sink.got("/sms")) == 2, 20, "two requests")
    wait_until(lambda: sum(1 for e in ids
                           if env.deliveries(e).get(("sms", "erin"), {})
                           .get("state") == "deferred") == 2, 20,
               "two deferred")
    time.sleep(0.5)
    assert len(http_sink.got("/sms")) == 2
    for e in ids:
        d = env.deliveries(e)[("sms", "erin")]
        if d["state"] == "deferred":
            assert d["attempts"] == 0
            assert "rate limit" in d["reason"]
            assert d["next_at"] - d["updated_at"] > 10 * 60 * 1000
            assert env.event(e)["q"]["attempts"] == 0
    env.stop()


def test_priority_orders_delivery(env, http_sink):
    env.write_conf(hook(http_sink, extra="concurrency = 1\n"),
                   notifyd="default_channels = hook\nbatch = 1\n"
                           "max_events = 1\nconcurrency = 1\n")
    low = [env.notify("fay", f"low{i}", "app.x", "--priority", "low")
           for i in range(3)]
    urgent = env.notify("fay", "urgent", "app.x", "--priority", "urgent")
    high = env.notify("fay", "high", "app.x", "--priority", "high")
    env.start()
    for e in low + [urgent, high]:
        env.wait_state(e)
    order = [json.loads(r["body"])["id"] for r in http_sink.got("/hook")]
    assert order == [urgent, high] + low
    env.stop()


def test_expired_event_is_dropped_with_a_reason(env, http_sink):
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n")
    eid = env.notify("gil", "stale", "app.x", "--expires", "1s")
    time.sleep(1.2)
    env.start()
    env.wait_state(eid, ("expired",))
    assert "expired" in env.event(eid)["q"]["last_error"]
    assert http_sink.got("/hook") == []
    env.stop()


def test_nobody_and_unknown_channel(env, http_sink):
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n")
    eid = env.notify("hal", "x", "app.x", "--channel", "nosuch")
    env.start()
    env.wait_state(eid)
    d = env.deliveries(eid)
    assert d[("@event", "nosuch")]["state"] == "skipped"
    assert "not configured" in d[("@event", "nosuch")]["reason"]
    env.stop()


def test_sighup_reload_and_bad_reload(env, http_sink):
    env.write_conf(hook(http_sink, "one", "/one"),
                   notifyd="default_channels = one\n")
    a = env.notify("ivy", "a")
    env.start()
    env.wait_state(a)
    env.write_conf(hook(http_sink, "two", "/two"),
                   notifyd="default_channels = two\n")
    env.send(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in env.log_text(), 10,
               "the reload")
    b = env.notify("ivy", "b")
    env.wait_state(b)
    assert [json.loads(r["body"])["id"] for r in http_sink.got("/two")] == [b]
    # a broken file is refused and the running configuration kept
    env.conf.write_text(env.conf.read_text() + "\n[channel.bad]\ntype = webhook\n")
    env.send(signal.SIGHUP)
    wait_until(lambda: "reload failed" in env.log_text(), 10, "the refusal")
    c = env.notify("ivy", "c")
    env.wait_state(c)
    assert len(http_sink.got("/two")) == 2
    assert env.stop() == 0


def test_sigterm_finishes_in_flight_and_releases(env, http_sink):
    http_sink.set("/hook", "delay", delay=1.5)
    env.write_conf(hook(http_sink, extra="concurrency = 2\n"),
                   notifyd="default_channels = hook\nconcurrency = 2\n")
    ids = [env.notify("jo", f"n{i}") for i in range(6)]
    env.start()
    wait_until(lambda: len(http_sink.got("/hook")) >= 2, 10, "two in flight")
    assert env.stop(signal.SIGTERM) == 0
    text = env.log_text()
    assert "stopping" in text and "stopped" in text
    states = {e: env.event(e)["q"] for e in ids}
    done = [e for e, q in states.items() if q["state"] == "done"]
    # what was in flight finished and was recorded
    assert len(done) == len(http_sink.got("/hook")) >= 2
    for e, q in states.items():
        if e not in done:
            assert q["state"] == "ready" and q["attempts"] == 0
    # and the rest goes out at the next start
    http_sink.set("/hook", "ok")
    env.start()
    for e in ids:
        env.wait_state(e)
    assert len({json.loads(r["body"])["id"] for r in http_sink.got("/hook")}) == 6
    env.stop()


def test_sd_notify_ready_and_stopping(env, http_sink, tmp_path):
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n")
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        env.start(env={"NOTIFY_SOCKET": path})
        msgs = [sock.recv(4096).decode()]
        assert "READY=1" in msgs[0]
        env.send(signal.SIGHUP)
        msgs += [sock.recv(4096).decode(), sock.recv(4096).decode()]
        assert msgs[1] == "RELOADING=1" and msgs[2] == "READY=1"
        env.send(signal.SIGTERM)
        assert sock.recv(4096).decode() == "STOPPING=1"
        assert env.stop() == 0
    finally:
        sock.close()


def test_metrics_endpoint(env, http_sink):
    import urllib.error
    import urllib.request
    env.write_conf(hook(http_sink), notifyd="default_channels = hook\n",
                   metrics=True)
    eid = env.notify("kim")
    env.start()
    env.wait_state(eid)
    m = env.metrics()
    assert m['gatehouse_notifyd_delivered_total{channel="hook"}'] == 1
    assert m['gatehouse_queue_events{state="done"}'] == 1
    assert m["gatehouse_queue_due_events"] == 0
    assert "gatehouse_queue_oldest_due_age_seconds" in m
    assert m['gatehouse_notifyd_events_total{outcome="acked"}'] == 1
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{env.metrics_port}/x",
                               timeout=5)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    env.stop()


def test_metrics_count_the_queue(env, http_sink):
    # One slot, held by a slow request, keeps the other events due and
    # unleased; the clock stands 90 s after they were made.
    http_sink.set("/hook", "delay", delay=4)
    http_sink.set("/gone", "fail", status=410)
    env.write_conf(hook(http_sink) + hook(http_sink, "gone", "/gone"),
                   notifyd="default_channels = hook\nbatch = 1\n"
                           "max_events = 1\nmetrics_queue_interval = 0s\n",
                   metrics=True)
    ids = [env.notify("lee", f"n{i}") for i in range(3)]
    ids.append(env.notify("lee", "gone", "app.notice", "--channel", "gone"))
    created = [env.event(e)["created_at"] for e in ids]
    now = max(created) + 90_000
    env.start(clock=now)
    wait_until(lambda: http_sink.got("/hook"), 20, "the slow request")
    assert env.state(ids[0]) == "leased"
    m = env.metrics()
    assert m['gatehouse_queue_events{state="leased"}'] == 1
    assert m['gatehouse_queue_events{state="ready"}'] == 3
    assert m['gatehouse_queue_events{state="done"}'] == 0
    assert m["gatehouse_queue_due_events"] == 3
    assert m["gatehouse_queue_oldest_due_age_seconds"] == \
        (now - created[1]) / 1000
    assert m["gatehouse_queue_stats_age_seconds"] == 0
    http_sink.set("/hook", "ok")
    for eid in ids[:3]:
        env.wait_state(eid)
    env.wait_state(ids[3], ("dead",))
    m = env.metrics()
    for state, n in (("ready", 0), ("leased", 0), ("done", 3), ("dead", 1),
                     ("expired", 0)):
        assert m[f'gatehouse_queue_events{{state="{state}"}}'] == n, state
    assert m["gatehouse_queue_due_events"] == 0
    assert m["gatehouse_queue_oldest_due_age_seconds"] == 0
    env.stop()


def test_metrics_reuse_a_count_of_the_queue(env, http_sink):
    def conf(interval):
        env.write_conf(hook(http_sink),
                       notifyd="default_channels = hook\n"
                               f"metrics_queue_interval = {interval}\n",
                       metrics=True)
    conf("1h")
    a = env.notify("max", "a")
    env.start()
    env.wait_state(a)
    assert env.metrics()['gatehouse_queue_events{state="done"}'] == 1
    b = env.notify("max", "b")
    env.wait_state(b)
    m = env.metrics()
    assert m['gatehouse_notifyd_events_total{outcome="acked"}'] == 2
    # the queue is not counted again within the hour
    assert m['gatehouse_queue_events{state="done"}'] == 1
    assert m["gatehouse_queue_stats_age_seconds"] > 0
    conf("0s")
    env.send(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in env.log_text(), 10,
               "the reload")
    m = env.metrics()
    assert m['gatehouse_queue_events{state="done"}'] == 2
    assert m["gatehouse_queue_stats_age_seconds"] == 0
    env.stop()


def test_bad_configuration_refuses_to_start(env, tmp_path):
    import subprocess
    from nd_support import NOTIFYD
    env.write_conf("[channel.x]\ntype = webhook\n")
    p = subprocess.run([str(NOTIFYD), "-c", str(env.conf), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 78
    assert "[channel.x] url" in p.stderr
    env.write_conf("", notifyd="default_channels = nosuch\n")
    p = subprocess.run([str(NOTIFYD), "-c", str(env.conf), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 78 and "no channel named 'nosuch'" in p.stderr
