"""Shared data in the multi-host mode (docs/cluster.md, "Shared data"):
contacts, push subscriptions, preferences and the suppression list in the
PREFIX_users and PREFIX_suppress KV buckets, every notifyd's core store and
every mail host's mail store keeping a copy."""
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import pytest

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
    try:
        return wait_until(lambda: metric(nd, "gatehouse_shared_up") == 1,
                          60, f"{nd.name}'s buckets")
    except AssertionError as e:
        # what notifyd said is what tells why (a CI run once timed out)
        raise AssertionError(f"{e}; {nd.name}'s log ends:\n"
                             + "\n".join(nd.text().splitlines()[-40:]))


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
    # a change committed while A's notifyd is dead (SIGKILL) is in A's
    # replication log and goes out when it starts again
    a.kill()
    a.gh.run("suppress", "add", "dan@example.net")
    a.start()
    want = [want[1], ("dan@example.net", "")]
    wait_until(lambda: sup(b.gh) == want, 60, "B's copy with dan")
    wait_until(lambda: sup(mx.gh, "mail") == want, 30, "the mail store with dan")
    assert "Sanitizer" not in mx.bridges["mail"].text()


def bucket_rev(nd):
    return (metric(nd, 'gatehouse_shared_revision{bucket="users"}'),
            metric(nd, 'gatehouse_shared_revision{bucket="suppress"}'))


def test_users_prefs_and_push_are_shared_without_echo(world):
    a, b = world.notifyd("nda"), world.notifyd("ndb")
    a.start(), b.start()
    up(a), up(b)
    a.gh.run("users", "set", "bob", "--email", "bob@example.org",
             "--tz", "Europe/Paris")
    a.gh.run("prefs", "set", "bob", "--category", "news=off",
             "--quiet", "22:00-07:00")

    def show(nd, what):
        r = nd.gh.run(what, "show", "bob", check=False, json_out=True)
        return r if isinstance(r, dict) else None

    wait_until(lambda: (show(b, "users") or {}).get("email") ==
               "bob@example.org", 30, "bob's contacts on B")
    pb = wait_until(lambda: show(b, "prefs"), 30, "bob's preferences on B")
    assert pb["categories"] == {"news": "off"}
    assert pb["quiet"] == {"start": "22:00", "end": "07:00"}
    # a push subscription added on B (a web node's request there) reaches
    # A without undoing A's contacts, and A's later name change keeps it
    sub = {"endpoint": "https://push.example.net/sub/1",
           "keys": {"p256dh": "BOr9yTCrqiP6Sx9tRaKfmRTsb01tnhJd2Bu6gE7ZtN"
                              "Df0qYCnXnDW_0oWHOj6Ghi9Z4D0ZxcbSV5mJLaXFgm0oU",
                    "auth": "aGVsbG8td29ybGQtMTIzNA"}}
    b.gh.run("users", "set", "bob", "--push-add", json.dumps(sub))
    wait_until(lambda: len((show(a, "users") or {}).get("push", [])) == 1,
               30, "bob's subscription on A")
    a.gh.run("users", "set", "bob", "--name", "Bob B")
    wait_until(lambda: (show(b, "users") or {}).get("name") == "Bob B", 30,
               "bob's name on B")
    ub = show(b, "users")
    assert ub["email"] == "bob@example.org" and len(ub["push"]) == 1
    # no echo: once settled, the buckets' revisions stay where they are
    time.sleep(1.5)
    settled = bucket_rev(a), bucket_rev(b)
    time.sleep(2)
    assert (bucket_rev(a), bucket_rev(b)) == settled
    assert bucket_rev(a) == bucket_rev(b)
    # `gatehouse cluster status` shows the buckets at those revisions
    st = {x["bucket"]: x for x in
          a.gh.run("cluster", "status", json_out=True)["buckets"]}
    assert st["gatehouse_users"]["revision"] == settled[0][0]
    assert st["gatehouse_suppress"]["revision"] == settled[0][1]
    # 4 changes made (contacts, prefs, push, name): one revision each;
    # an instance applying another's change publishes nothing back
    assert settled[0][0] == 4, settled
    # both sides change the same record at once, again and again: they
    # end up agreeing (the later revision wins everywhere)
    for i in range(8):
        for nd, tag in ((a, "a"), (b, "b")):
            nd.gh.run("users", "set", "bob", "--name", f"{tag}{i}")
    wait_until(lambda: show(a, "users")["name"] == show(b, "users")["name"],
               30, "A and B agreeing on bob's name")
    time.sleep(1)
    assert show(a, "users")["name"] == show(b, "users")["name"]
    assert len(show(a, "users")["push"]) == 1
    # deleted on B: gone on A
    b.gh.run("users", "delete", "bob")
    wait_until(lambda: a.gh.run("users", "show", "bob",
                                check=False).returncode != 0, 30,
               "bob gone from A")
    wait_until(lambda: "categories:  (defaults)" in
               a.gh.run("prefs", "show", "bob").stdout, 30,
               "bob's preferences gone from A")


def test_partitioned_hosts_keep_the_last_list_and_catch_up(world):
    a, b = world.notifyd("nda"), world.notifyd("ndb")
    mx = world.host("mx", domains=("mail",))
    a.start(), b.start(), mx.start()
    up(a), up(b)
    a.gh.run("suppress", "add", "one@example.net")
    wait_until(lambda: sup(mx.gh, "mail") == [("one@example.net", "")], 30,
               "the first entry on the mail host")
    wait_until(lambda: sup(b.gh) == [("one@example.net", "")], 30,
               "the first entry on B")
    seen = len(mx.bridges["mail"].text())
    for i in range(len(world.cluster.nodes)):
        world.cluster.kill_node(i)
    # NATS gone: every host keeps applying what it had
    a.gh.run("suppress", "add", "two@example.net")
    time.sleep(3)
    assert sup(mx.gh, "mail") == [("one@example.net", "")]
    assert sup(b.gh) == [("one@example.net", "")]
    wait_until(lambda: metric(a, "gatehouse_shared_pending") >= 1, 10,
               "A's change waiting")
    for node in world.cluster.nodes:
        world.cluster.start_node(node)
    world.cluster.wait_leader()
    both = [("one@example.net", ""), ("two@example.net", "")]
    wait_until(lambda: sup(b.gh) == both, 90, "B caught up")
    wait_until(lambda: sup(mx.gh, "mail") == both, 90, "the mail host caught up")
    wait_until(lambda: metric(a, "gatehouse_shared_pending") == 0, 30,
               "A's log empty")
    # down and back up: one line each, not one per attempt
    log = mx.bridges["mail"].text()[seen:]
    assert log.count("shared data (bucket suppress): cluster unreachable "
                     "(not connected)") == 1, log
    assert log.count("shared data (bucket suppress): connected") == 1, log


# ---- an unsubscribe on a web node stops bulk mail on another host's MTA

MILTER_DIR = pathlib.Path(__file__).resolve().parents[1] / "milter"
sys.path.insert(0, str(MILTER_DIR))
import mailenv  # noqa: E402


@pytest.fixture(scope="module")
def mta():
    """A real Postfix and sink (tests/integration/milter/mailenv.py)."""
    if shutil.which("postfix") is None:
        pytest.fail("postfix is not installed (scripts/install-deps)")
    base = pathlib.Path(tempfile.mkdtemp(prefix="gh-cl-mta-", dir="/tmp"))
    os.chmod(base, 0o755)
    w = mailenv.World(base)
    try:
        w.start()
        yield w
    finally:
        try:
            w.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


def bulk(subject, to):
    return mailenv.simple_message(subject, to=to, extra=["Precedence: bulk"])


def test_web_unsubscribe_stops_bulk_mail_on_another_host(world, mta):
    a, b = world.notifyd("nda"), world.notifyd("ndb")
    wa = world.host("wa", domains=("web",))
    mx = world.host("mx", domains=("mail",))
    a.start(), b.start(), wa.start(), mx.start()
    up(a), up(b)
    # mx's milter reads the mail store mx's bridge keeps
    mbase = mta.base / f"m-{os.getpid()}"
    mbase.mkdir()
    os.chmod(mbase, 0o755)
    m = mailenv.Milter(mbase, mta.milter_port, mta.milter_sock)
    m.add_key("rsa1", "rsa")
    m.write_conf(store=mx.base / "mail")
    m.start()
    try:
        def listed(addr):
            return mx.gh.run("--domain", "mail", "suppress", "check", addr,
                             check=False).returncode == 0

        # (a web node's request, as the nginx module writes one); the
        # time from its commit in wa's web store to mx's mail store
        took = []
        for i in range(10):
            addr = "bob@example.net" if i == 0 else f"u{i}@example.net"
            t0 = time.monotonic()
            wa.gh.run("--domain", "web", "events", "enqueue", "--type",
                      "web.unsubscribe", "--user", addr, "--title",
                      "unsubscribe", "--metadata",
                      json.dumps({"address": addr.capitalize(), "list": ""}))
            wait_until(lambda: listed(addr), 30,
                       "the unsubscribe in mx's mail store", step=0.005)
            took.append(time.monotonic() - t0)
        took.sort()
        print(f"\nweb request on wa -> mx's mail store, 10 runs: "
              f"p50 {took[5] * 1000:.0f} ms, max {took[-1] * 1000:.0f} ms")
        mailenv.send(mta.postfix.port, f"news@{mailenv.DOMAIN}",
                     ["bob@example.net", "carol@example.net"],
                     bulk("cluster bulk", "bob@example.net"))
        _, rcpts, _ = mta.sink.find(b"Subject: cluster bulk")
        assert rcpts == ["carol@example.net"]
        assert m.record_for("cluster bulk")["suppressed"] == ["bob@example.net"]
        # a one-click unsubscribe the nginx module took into wa's web store
        wa.gh.run("--domain", "web", "suppress", "add", "dave@example.net",
                  "--list", "news.example.org")
        wait_until(lambda: ("dave@example.net", "news.example.org") in
                   sup(mx.gh, "mail"), 30, "the one-click unsubscribe on mx")
        assert sup(wa.gh, "web") == []   # handed over, not kept
        assert ("dave@example.net", "news.example.org") in sup(a.gh)
        # "within a second" on an idle machine; loose here (shared CI)
        assert took[5] < 5, took
    finally:
        m.stop()
        assert not m.asan_reports()


def _nats_errors(cluster, dom, subjects, payload=b"{}"):
    """Connect as domain dom's NATS user (NKey challenge signed here) with
    the plain protocol, publish to each subject, and return the server's
    -ERR lines."""
    import base64
    import socket
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PrivateKey
    seed, pub, _ = cluster.keys[dom]
    raw = base64.b32decode(seed + "=" * (-len(seed) % 8))[2:34]
    s = None
    for node in cluster.nodes:   # any node that is up
        try:
            s = socket.create_connection(("127.0.0.1", node["port"]),
                                         timeout=10)
            break
        except OSError:
            continue
    assert s is not None, "no NATS node answers"
    f = s.makefile("rb")
    info = json.loads(f.readline().decode().split(" ", 1)[1])
    sig = Ed25519PrivateKey.from_private_bytes(raw).sign(
        info["nonce"].encode())
    con = {"nkey": pub, "verbose": False, "pedantic": False,
           "sig": base64.urlsafe_b64encode(sig).decode().rstrip("=")}
    out = b"CONNECT " + json.dumps(con).encode() + b"\r\nPING\r\n"
    for subj in subjects:
        out += f"PUB {subj} {len(payload)}\r\n".encode() + payload + b"\r\n"
    out += b"PING\r\n"
    s.sendall(out)
    errs, pongs = [], 0
    while pongs < 2:
        line = f.readline().decode().strip()
        if line == "PONG":
            pongs += 1
        elif line.startswith("-ERR"):
            errs.append(line)
        elif not line:
            break
    s.close()
    return errs


def test_only_the_core_writes_the_shared_buckets(world):
    a = world.notifyd("nda")
    a.start()
    up(a)
    key = "Ym9iQGV4YW1wbGUubmV0"   # B64("bob@example.net")
    puts = [f"$KV.gatehouse_suppress.{key}", f"$KV.gatehouse_users.prefs.{key}"]
    for dom in ("mail", "web", "login"):
        errs = _nats_errors(world.cluster, dom, puts)
        assert len(errs) == 2 and all("Permissions Violation" in e
                                      for e in errs), (dom, errs)
    time.sleep(1)
    assert sup(a.gh) == []
    # the same put as the core: taken, and applied by notifyd
    val = json.dumps({"v": 1, "addr": "bob@example.net", "list": "",
                      "source": "test", "created_at": 1}).encode()
    assert _nats_errors(world.cluster, "core", puts[:1], val) == []
    wait_until(lambda: sup(a.gh) == [("bob@example.net", "")], 30,
               "the core's put applied")


def test_a_store_joining_publishes_what_it_had(world):
    a, b = world.notifyd("nda"), world.notifyd("ndb")
    # written before A's store was ever clustered: nothing noted yet
    for i in range(130):
        a.gh.run("suppress", "add", f"old{i}@example.net")
    a.gh.run("users", "set", "olga", "--email", "olga@example.org")
    b.start()
    up(b)
    a.start()
    up(a)
    wait_until(lambda: len(sup(b.gh)) == 130, 60, "A's old list on B")
    assert b.gh.run("users", "show", "olga", json_out=True)["email"] == \
        "olga@example.org"
    wait_until(lambda: metric(a, "gatehouse_shared_pending") == 0, 30,
               "A's log empty")
    # 130 entries, olga's contacts and her (empty) push list
    assert "shared data: the store joins the cluster, 132 records to " \
           "publish" in a.text()


def test_one_connection_per_bridge_and_per_notifyd(world):
    """The mail bridge forwards events and watches the suppression list,
    notifyd takes events and syncs the buckets: each on one connection
    to the cluster, not one per task (nats-server's /connz counts them
    by the connection's name, "gatehouse DOMAIN@HOST")."""
    nd = world.notifyd("ndc")
    mx = world.host("mxc", domains=("mail", "web"))
    nd.start(), mx.start()
    up(nd)
    # both of the mail bridge's tasks are running: the watcher has the
    # bucket, the forwarder's heartbeat went out
    wait_until(lambda: "connected to the cluster" in
               mx.bridges["mail"].text() and "forwarding to NATS" in
               mx.bridges["mail"].text(), 60, "the mail bridge's tasks")
    wait_until(lambda: "forwarding to NATS" in mx.bridges["web"].text(), 60,
               "the web bridge")
    wait_until(lambda: "cluster: taking events from" in nd.text(), 60,
               "notifyd's intake")
    c = world.cluster
    # a moment for a second connection, if any, to be counted too
    time.sleep(1)
    assert c.connections("gatehouse mail@mxc") == 1
    assert c.connections("gatehouse web@mxc") == 1
    assert c.connections("gatehouse core@ndc") == 1
    # and it works: an unsubscribe reaches the mail store, an event the
    # sink
    nd.gh.run("suppress", "add", "erin@example.net")
    wait_until(lambda: sup(mx.gh, "mail") == [("erin@example.net", "")], 30,
               "the mail store's copy")
    mx.enqueue("mail", "one-connection")
    wait_until(lambda: any(json.loads(r["body"]).get("title") ==
                           "one-connection" for r in world.sink.got("/hook")),
               60, "the event delivered")
    for b in mx.bridges.values():
        assert b.stop() == 0
        assert "Sanitizer" not in b.text() and "runtime error" not in b.text()
    assert nd.stop() == 0
