"""The events API (gatehouse_events_api, docs/api.md): the application on
the same host POSTs a JSON event to nginx, which checks it against the
queue's contract, the location's types= and the core's [events_api], and
queues it -- into the core store itself when there is one store, into the
web domain's outbox when there is a bridge.  A real notifyd delivers it
to a webhook sink through a real gatehouse-bridge."""
import json
import os
import pathlib
import pwd
import signal
import subprocess
import time

import pytest

from ngx_support import GH, Nginx, WORKER_USER, check_log, wait_for
from gh_http import post

from nd_sinks import HttpSink

ROOT = pathlib.Path(__file__).resolve().parents[3]
NOTIFYD = ROOT / "build" / "gatehouse-notifyd"
BRIDGE = ROOT / "build" / "gatehouse-bridge"

EVENTS_API = """\
[events_api]
types = app.* order.*
action_url_prefix = https://app.example.org/
"""

SERVER = """\
        location = /events {
            allow 127.0.0.1;
            deny all;
            gatehouse_events_api types=app.* order.*;
        }
        location = /events/orders {
            gatehouse_events_api types=order.shipped;
        }
        location = /events/any {
            gatehouse_events_api;
        }
"""

JSON = "application/json"


def send(n, event, path="/events", ctype=JSON, method="POST"):
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return post(n.port, path, body, ctype, method=method)


def events(n):
    return json.loads(n.gh("--json", "events", "list", "--limit",
                           "1000").stdout)


@pytest.fixture(scope="module")
def api():
    """One store: nginx queues into the core store itself."""
    n = Nginx()
    n.write_ghconf(EVENTS_API)
    n.write(http=f"    gatehouse_conf {n.ghconf};\n", server=SERVER)
    try:
        n.start()
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    check_log(log)


def good(**kw):
    ev = {"type": "app.comment", "user": "alice",
          "title": "Bob replied to your post", "message": "Nice photo!",
          "priority": 3, "category": "social",
          "action_url": "https://app.example.org/posts/7#c3",
          "metadata": {"post": 7, "by": "bob"}, "expires": "1h"}
    ev.update(kw)
    return {k: v for k, v in ev.items() if v is not ...}


def test_an_event_is_queued_as_the_core_would_stamp_it(api):
    t0 = int(time.time() * 1000)
    r = send(api, good(dedup_key="comment:7:3"))
    assert r.status == 202, r
    assert r.headers["content-type"] == "application/json"
    out = r.json()
    assert out["duplicate"] is False and out["queue"] == "core"
    ev = json.loads(api.gh("--json", "events", "show",
                           str(out["id"])).stdout)
    assert ev["type"] == "app.comment" and ev["user"] == "alice"
    assert ev["title"] == "Bob replied to your post"
    assert ev["message"] == "Nice photo!"
    assert ev["category"] == "social"
    assert ev["priority"] == 3
    assert ev["action_url"] == "https://app.example.org/posts/7#c3"
    assert ev["metadata"] == {"post": 7, "by": "bob"}
    # stamped by the core's rules, whatever the application says
    assert ev["source"] == "app"
    assert ev["dedup_key"] == "web:comment:7:3"
    # expires is a duration, as `gatehouse notify --expires`
    assert t0 + 3600_000 <= ev["expires_at"] <= t0 + 3600_000 + 60_000
    assert ev["q"]["state"] in ("ready", "leased", "done")


def test_defaults_and_caps(api):
    r = send(api, {"type": "order.shipped", "user": "bob",
                   "title": "Your order shipped", "priority": 4})
    assert r.status == 202, r
    ev = json.loads(api.gh("--json", "events", "show",
                           str(r.json()["id"])).stdout)
    # urgent is the admin's: high at most; the type's category by default
    assert ev["priority"] == 3
    assert ev["category"] == "system"
    assert "expires_at" not in ev or ev["expires_at"] is None


@pytest.mark.parametrize("change,field", [
    ({"type": "billing.invoice"}, "type"),        # outside types=
    ({"type": "upload.infected"}, "type"),        # the module's own
    ({"type": "Bad Type"}, "type"),
    ({"title": ...}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x" * 1025}, "title"),
    ({"user": ...}, "user"),
    ({"priority": 9}, "priority"),
    ({"priority": "high"}, "priority"),
    ({"metadata": ["not", "an", "object"]}, "metadata"),
    ({"colour": "red"}, "colour"),
    ({"channels": ["sms"]}, "channels"),
    ({"recipients": ["mail:x@example.org"]}, "recipients"),
    ({"source": "pam"}, "source"),
    ({"expires_at": 1}, "expires_at"),
    ({"expires": "soon"}, "expires"),
    ({"expires": 3600}, "expires"),
    ({"category": "security"}, "category"),
    ({"category": "Not Valid"}, "category"),
    ({"action_url": "https://evil.example/phish"}, "action_url"),
    ({"action_url": "https://app.example.org.evil.example/"}, "action_url"),
    ({"dedup_key": ""}, "dedup_key"),
])
def test_a_bad_field_is_named(api, change, field):
    before = len(events(api))
    r = send(api, good(**change))
    assert r.status == 400, r
    out = r.json()
    assert out["error"] == "bad_event"
    assert out["field"] == field, out
    assert out["status"] == 400 and out["message"]
    assert len(events(api)) == before


def test_the_location_and_the_core_both_filter_types(api):
    # /events/orders narrows to order.shipped
    r = send(api, good(type="order.created"), path="/events/orders")
    assert r.status == 400 and r.json()["field"] == "type"
    assert "types=" in r.json()["message"]
    assert send(api, good(type="order.shipped"),
                path="/events/orders").status == 202
    # no types= there: the core's [events_api] list decides
    assert send(api, good(type="app.x"), path="/events/any").status == 202
    r = send(api, good(type="billing.x"), path="/events/any")
    assert r.status == 400 and r.json()["field"] == "type"
    assert "[events_api]" in r.json()["message"]
    # never another part's types, whatever the patterns
    for t in ("login.new_host", "mail.rejected", "digest", "store.x"):
        r = send(api, good(type=t), path="/events/any")
        assert r.status == 400 and r.json()["field"] == "type", (t, r)


def test_a_duplicate_dedup_key_is_one_event(api):
    ev = good(title="only once", dedup_key="order:42:shipped")
    a = send(api, ev)
    b = send(api, ev)
    assert a.status == 202 and b.status == 202
    assert a.json()["duplicate"] is False
    assert b.json() == {"id": a.json()["id"], "duplicate": True,
                        "queue": "core"}
    assert len([e for e in events(api) if e["title"] == "only once"]) == 1


def test_not_json_and_bad_json(api):
    r = send(api, b"type=app.x&user=a&title=t",
             ctype="application/x-www-form-urlencoded")
    assert r.status == 415 and r.json()["error"] == "not_json", r
    r = send(api, b'{"type": "app.x"}', ctype="text/plain")
    assert r.status == 415
    assert send(api, good(), ctype="application/json; charset=utf-8"
                ).status == 202
    r = send(api, b'{"type": "app.x", ')
    assert r.status == 400 and r.json()["error"] == "bad_json", r
    r = send(api, b'["not", "an", "object"]')
    assert r.status == 400 and r.json()["error"] == "bad_json"
    r = send(api, b'{"type": "app.x", "type": "app.y"}')
    assert r.status == 400 and r.json()["error"] == "bad_json"


def test_other_methods_are_405(api):
    for m in ("GET", "PUT", "DELETE"):
        r = send(api, b"", method=m)
        assert r.status == 405, (m, r)
        assert r.headers["allow"] == "POST"
        assert r.json()["error"] == "method_not_allowed"


def test_a_large_body_is_413(api):
    big = good(message="x" * (64 * 1024))
    r = send(api, big)
    assert r.status == 413 and r.json()["error"] == "event_too_large", r
    # chunked: the size is known only once read
    import socket
    from gh_http import read_response
    body = json.dumps(big).encode()
    head = (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    out = bytearray(head)
    for i in range(0, len(body), 4000):
        piece = body[i:i + 4000]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as s:
        s.sendall(bytes(out))
        r = read_response(s)
    assert r.status == 413, r
    # just under the cap in a body nginx keeps in a temp file: taken
    r = send(api, good(metadata={"blob": "y" * 60000},
                       title="big but fine"))
    assert r.status == 202, r


def test_configuration_errors(nginx_conf):
    n = nginx_conf
    n.write_ghconf(EVENTS_API)
    n.write(http=f"    gatehouse_conf {n.ghconf};\n", server="""\
        location = /e { gatehouse_events_api types=App.*; }
""")
    p = n.test()
    assert p.returncode != 0 and "invalid type pattern" in p.stderr
    n.write(http=f"    gatehouse_conf {n.ghconf};\n", server="""\
        location = /e { gatehouse_events_api kinds=app.*; }
""")
    p = n.test()
    assert p.returncode != 0 and "unknown parameter" in p.stderr
    n.write(server="""\
        location = /e { gatehouse_events_api; }
""")
    p = n.test()
    assert p.returncode != 0 and "needs \"gatehouse_conf\"" in p.stderr
    n.write_ghconf("[events_api]\ntypes = app.*\n"
                   "action_url_prefix = https://app.example.org\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n", server="""\
        location = /e { gatehouse_events_api; }
""")
    p = n.test()
    assert p.returncode != 0 and "action_url_prefix" in p.stderr
    n.write_ghconf(EVENTS_API)
    assert n.test().returncode == 0, n.test().stderr


# ---- the whole way: nginx, web outbox, bridge, notifyd, a webhook ----


@pytest.fixture
def bridged():
    """[store] web set: nginx writes the web outbox (owned by the worker
    user), gatehouse-bridge carries it to gatehouse-notifyd (root, the
    core store's owner), which delivers on a webhook."""
    n = Nginx()
    sink = HttpSink()
    procs = {}
    core = n.prefix / "core"
    run = n.prefix / "run"
    run.mkdir()
    os.chmod(run, 0o755)
    (n.prefix / "no-templates").mkdir()
    n.write_ghconf(
        f"web = {n.store}\nweb_owner = {WORKER_USER}\n"
        f"lock_timeout = 5s\n\n"
        f"{EVENTS_API}\n"
        f"[notifyd]\nbridge_socket = {run / 'bridge.sock'}\n"
        f"poll_interval = 50ms\nlog = stderr\n"
        f"templates = {n.prefix / 'no-templates'}\n"
        f"shipped_templates = {n.prefix / 'no-templates'}\n"
        f"default_channels = hook\n\n"
        f"[channel.hook]\ntype = webhook\nurl = {sink.url('/hook')}\n"
        f"secret = whsec_events_api\n")
    # [store] path is the core's: write it first, then the rest
    text = n.ghconf.read_text().replace(f"path = {n.store}",
                                        f"path = {core}")
    n.ghconf.write_text(text)
    n.gh("store", "init")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n", server=SERVER)

    def start(name, cmd):
        log = open(n.prefix / f"{name}.log", "ab")
        procs[name] = subprocess.Popen([str(c) for c in cmd], stdout=log,
                                       stderr=log)

    def log(name):
        return (n.prefix / f"{name}.log").read_text(errors="replace")
    n.log_of = log
    try:
        start("notifyd", [NOTIFYD, "-c", n.ghconf, "--stderr"])
        wait_for(lambda: (run / "bridge.sock").exists(), "the bridge socket")
        start("bridge", [BRIDGE, "-c", n.ghconf, "web"])
        wait_for(lambda: "connected to gatehouse-notifyd" in log("bridge"),
                 "the web bridge")
        n.start()
        n.sink = sink
        n.core = core
        yield n
    finally:
        errlog = n.error_log()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        sink.close()
        n.cleanup()
    check_log(errlog)


def test_delivered_through_the_bridge_to_the_users_channel(bridged):
    n = bridged
    assert pwd.getpwuid(os.stat(n.store).st_uid).pw_name == WORKER_USER
    r = send(n, good(title="Your order shipped", type="order.shipped",
                     user="carol", category="orders",
                     dedup_key="order:9:shipped"))
    assert r.status == 202, r
    assert r.json()["queue"] == "outbox"
    # a second time: the outbox's dedup says so at once
    r2 = send(n, good(title="Your order shipped", type="order.shipped",
                      user="carol", category="orders",
                      dedup_key="order:9:shipped"))
    assert r2.json()["duplicate"] is True and \
        r2.json()["id"] == r.json()["id"]
    got = wait_for(lambda: n.sink.got("/hook"), "the webhook", timeout=30)
    time.sleep(0.5)
    assert len(n.sink.got("/hook")) == 1
    body = json.loads(got[0]["body"])
    assert body["type"] == "order.shipped" and body["user"] == "carol"
    assert body["title"] == "Your order shipped"
    assert body["category"] == "orders"
    assert body["source"] == "app"
    assert body["action_url"] == "https://app.example.org/posts/7#c3"
    assert body["metadata"] == {"post": 7, "by": "bob"}
    # in the core store, stamped; the outbox's copy done
    core = json.loads(n.gh("--json", "events", "list").stdout)
    assert [e["dedup_key"] for e in core] == ["web:order:9:shipped"]
    outbox = json.loads(n.gh("--json", "--domain", "web", "events",
                             "list").stdout)
    assert outbox[0]["q"]["state"] == "done"


def test_notifyd_checks_events_api_too(tmp_path):
    """The core reads the same [events_api]: a bad one stops notifyd's
    --check (and its start) as it fails nginx -t."""
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {tmp_path / 'core'}\nsync = no\n"
                    "[events_api]\ntypes = app.*\n"
                    "action_url_prefix = https://app.example.org\n"
                    "[notifyd]\nlog = stderr\n")
    subprocess.run([str(GH), "-c", str(conf), "store", "init"], check=True,
                   capture_output=True)
    p = subprocess.run([str(NOTIFYD), "-c", str(conf), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 78, p.stderr
    assert "[events_api] action_url_prefix" in p.stderr
