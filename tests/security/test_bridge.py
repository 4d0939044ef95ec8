"""What crosses between domains (docs/security.md, rule 4): each domain's
events reach the core only through its bridge, checked and stamped with
the domain the kernel says the bridge runs as; forged hellos, other
domains' event types, sources and dedup keys are refused or rewritten."""
import json
import os
import signal
import socket
import time

import pytest

from secenv import USERS, EVIL, as_user, digest, wait_until

CLAIM = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.send(json.dumps({"t": "hello", "v": 1,
                       "domain": sys.argv[2]}).encode())
    print(s.recv(65536).decode() or "closed", flush=True)
except (socket.timeout, ConnectionError):
    print("closed", flush=True)
    sys.exit(0)


def answer():
    # the answer to what was sent: not a suppression snapshot, which
    # notifyd sends a mail bridge on its own
    while True:
        try:
            m = s.recv(300000).decode()
        except (socket.timeout, ConnectionError):
            return "closed"
        if not m:
            return "closed"
        if not json.loads(m)["t"].startswith("snap"):
            return m


for m in sys.argv[3:]:
    s.send(m.encode())
    print(answer(), flush=True)
"""


def claim(sec, user, domain, *msgs):
    r = as_user(user, ["/usr/bin/python3", "-c", CLAIM, sec.sock, domain] +
                [json.dumps(m) if not isinstance(m, str) else m
                 for m in msgs])
    assert r.returncode == 0, r.stderr
    return [json.loads(l) if l.startswith("{") else l
            for l in r.stdout.splitlines()]


@pytest.fixture
def running(sec):
    sec.init()
    sec.start_notifyd()
    for d in ("mail", "web", "login"):
        sec.start_bridge(d)
    return sec


def core_event(sec, title, timeout=20):
    return wait_until(lambda: [e for e in sec.events()
                               if e["title"] == title],
                      timeout, f"event {title!r} in the core")[0]


def test_events_cross_checked_and_stamped(running):
    sec = running
    # each domain writes its own outbox, as its own uid
    sec.gh("--domain", "web", "events", "enqueue", "--user", "bob",
           "--type", "upload.infected", "--title", "virus",
           "--dedup-key", "login.new_host:alice", user=USERS["web"])
    sec.gh("--domain", "web", "events", "enqueue", "--user", "alice",
           "--type", "login.new_host", "--title", "forged login alert",
           user=USERS["web"])
    sec.gh("--domain", "mail", "events", "enqueue", "--user", "carol",
           "--type", "mail.rejected", "--title", "bounced",
           user=USERS["mail"])
    sec.gh("--domain", "login", "events", "enqueue", "--user", "alice",
           "--type", "login.new_host", "--title", "new host",
           user=USERS["login"])
    virus = core_event(sec, "virus")
    assert virus["source"] == "nginx"
    # a web event cannot hold a login event's dedup key
    assert virus["dedup_key"] == "web:login.new_host:alice"
    assert core_event(sec, "bounced")["source"] == "milter"
    assert core_event(sec, "new host")["source"] == "pam"
    # the web domain cannot raise a login alert: refused, dead-lettered
    # in its own outbox with the reason, never in the core
    dead = wait_until(lambda: sec.events("web", "dead"), 20,
                      "the refused event dead-lettered")
    assert dead[0]["title"] == "forged login alert"
    assert "upload." in dead[0]["q"]["last_error"]
    assert not [e for e in sec.events() if e["title"] ==
                "forged login alert"]
    assert "refused: the web domain may raise only upload.*" in \
        sec.log("notifyd")


def test_forged_hellos_are_refused(running):
    sec = running
    out = claim(sec, USERS["web"], "mail")
    assert out[0]["t"] == "refused" and "does not own the mail store" in \
        out[0]["why"]
    # a uid that owns no store is not even listened to
    out = claim(sec, EVIL, "web")
    assert out == ["closed"]
    out = claim(sec, EVIL, "core")
    assert out == ["closed"]
    # garbage after a good hello: the connection goes, notifyd stays
    out = claim(sec, USERS["web"], "web", "not json at all")
    assert out[0]["t"] == "welcome" and out[1] == "closed"
    assert sec.procs["notifyd"].poll() is None
    # the real web bridge was replaced by the forger's hello and comes
    # back on its own
    sec.gh("--domain", "web", "events", "enqueue", "--user", "bob",
           "--type", "upload.stored", "--title", "after the forgery",
           user=USERS["web"])
    core_event(sec, "after the forgery", timeout=30)


def test_an_event_sent_twice_is_queued_once(running):
    """A bridge that dies after the core committed an event but before
    its own ack sends it again; the core recognises it."""
    sec = running
    sec.stop("bridge-web")
    ev = {"t": "ev", "id": 7, "at": 1700000000000,
          "ev": {"type": "upload.stored", "user": "u", "title": "twice"}}
    for _ in range(2):
        out = claim(sec, USERS["web"], "web", ev)
        assert out[1] == {"t": "ack", "id": 7}
    time.sleep(0.5)
    assert len([e for e in sec.events() if e["title"] == "twice"]) == 1
    # and a source the event claims is not the one it gets
    ev2 = {"t": "ev", "id": 8, "at": 1700000000001,
           "ev": {"type": "upload.stored", "user": "u", "title": "claims pam",
                  "source": "pam", "category": "security"}}
    claim(sec, USERS["web"], "web", ev2)
    assert core_event(sec, "claims pam")["source"] == "nginx"


def test_only_the_web_domain_records_unsubscribes(running):
    sec = running
    out = claim(sec, USERS["mail"], "mail",
                {"t": "sup", "addr": "victim@example.org", "list": ""})
    assert out[1]["t"] == "sup-ack"
    assert "only the web domain records unsubscribes" in sec.log("notifyd")
    p = sec.gh("suppress", "check", "victim@example.org", check=False)
    assert "not suppressed" in p.stdout or p.returncode != 0


def test_suppression_list_flows_core_to_mail(running):
    sec = running
    sec.gh("suppress", "add", "Carol@Example.org")
    wait_until(lambda: "carol@example.org" in
               sec.gh("--domain", "mail", "suppress", "list").stdout,
               20, "the core's list in the mail store")
    # an unsubscribe the web domain recorded: to the core, then to mail,
    # and gone from the web store once the core has it
    sec.gh("--domain", "web", "suppress", "add", "dave@example.org",
           "--list", "news", user=USERS["web"])
    wait_until(lambda: "dave@example.org" in
               sec.gh("--domain", "mail", "suppress", "list").stdout,
               20, "the web's unsubscribe in the mail store")
    assert "dave@example.org" in sec.gh("suppress", "list").stdout
    wait_until(lambda: "dave@example.org" not in
               sec.gh("--domain", "web", "suppress", "list").stdout,
               20, "the web's entry handed over")
    sec.gh("suppress", "remove", "carol@example.org")
    wait_until(lambda: "carol@example.org" not in
               sec.gh("--domain", "mail", "suppress", "list").stdout,
               20, "a removal reaching the mail store")


def test_a_domain_cannot_slow_another(running):
    """The web uid holds its store's write lock forever: the mail and
    login domains write and deliver as before."""
    sec = running
    from secenv import hold_wlock
    with hold_wlock(sec.stores["web"], USERS["web"]):
        t0 = time.monotonic()
        sec.gh("--domain", "mail", "events", "enqueue", "--user", "carol",
               "--type", "mail.rejected", "--title", "while web is stuck",
               user=USERS["mail"])
        sec.gh("--domain", "login", "events", "enqueue", "--user",
               "alice", "--type", "login.new_host", "--title",
               "login while web is stuck", user=USERS["login"])
        assert time.monotonic() - t0 < 1.5   # no 2 s lock wait
        core_event(sec, "while web is stuck")
        core_event(sec, "login while web is stuck")
        r = sec.gh("--domain", "web", "events", "enqueue", "--user", "b",
                   "--type", "upload.stored", "--title", "x",
                   user=USERS["web"], check=False)
        assert r.returncode == 75   # its own writers wait, and say so


def test_producers_cannot_choose_who_is_told(running):
    """A compromised producer names its user or the admins, nothing more:
    no addresses, channels or links of its own; its category and a
    priority below urgent are the core's."""
    sec = running
    sec.stop("bridge-web")
    base = {"type": "upload.infected", "user": "u", "title": "t"}
    cases = [
        ({"recipients": ["mail:victim@example.com"]}, "reject"),
        ({"recipients": [{"channel": "sms", "to": "+19005550100"}]},
         "reject"),
        ({"channels": ["sms"]}, "reject"),
        ({"action_url": "https://evil.example/reset"}, "reject"),
        ({"recipients": ["admins"]}, "ack"),
    ]
    for i, (extra, want) in enumerate(cases):
        ev = {"t": "ev", "id": 100 + i, "at": 1700000000000 + i,
              "ev": dict(base, title=f"case {i}", **extra)}
        out = claim(sec, USERS["web"], "web", ev)
        assert out[1]["t"] == want, (extra, out)
    ev = {"t": "ev", "id": 200, "at": 1700000000200,
          "ev": dict(base, title="stamped", category="marketing",
                     priority=4)}
    claim(sec, USERS["web"], "web", ev)
    e = core_event(sec, "stamped")
    assert e["category"] == "security" and e["priority"] == 3
    # The category is the type's, not the producer's word: a web server
    # cannot make its storage alert a security notice nor the reverse.
    ev = {"t": "ev", "id": 201, "at": 1700000000201,
          "ev": dict(base, type="upload.storage_full", title="full",
                     category="security")}
    claim(sec, USERS["web"], "web", ev)
    e = core_event(sec, "full")
    assert e["category"] == "system"


def test_strangers_cannot_crowd_out_the_bridges(running):
    """A uid of no domain opens connection after connection: each is
    closed at once, and a bridge still gets in."""
    sec = running
    flood = r"""
import socket, sys, time
socks = []
end = time.time() + 4
while time.time() < end:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(sys.argv[1])
        socks.append(s)
    except OSError:
        pass
    if len(socks) > 64:
        socks.pop(0).close()
"""
    import subprocess
    import pwd
    pw = pwd.getpwnam(EVIL)
    p = subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}",
                          f"--regid={pw.pw_gid}", "--clear-groups", "--",
                          "/usr/bin/python3", "-c", flood, str(sec.sock)])
    try:
        time.sleep(0.5)
        sec.stop("bridge-mail")
        sec.start_bridge("mail")
        assert "connected to gatehouse-notifyd" in sec.log("bridge-mail")
    finally:
        p.wait(30)
    # and the refusals were said once, not once per connection
    assert sec.log("notifyd").count("owns no domain's store") == 1


def test_a_packet_too_big_closes_the_connection(running):
    sec = running
    sec.stop("bridge-web")
    big = json.dumps({"t": "ev", "id": 1, "at": 1,
                      "ev": {"type": "upload.x", "user": "u", "title": "x",
                             "message": "y" * (100 * 1024)}})
    out = claim(sec, USERS["web"], "web", big)
    assert out[0]["t"] == "welcome" and out[1] == "closed"
    assert sec.procs["notifyd"].poll() is None


def test_a_flooding_domain_is_read_slower_and_loses_nothing(sec):
    """bridge_rate: beyond it (bursts of ten times the rate), notifyd
    reads a domain's bridge later; nothing is lost, only delayed."""
    text = sec.conf.read_text().replace("[notifyd]\n",
                                        "[notifyd]\nbridge_rate = 20\n")
    sec.conf.write_text(text)
    sec.init()
    sec.start_notifyd()
    evs = [{"t": "ev", "id": 1000 + i, "at": 1700000000000 + i,
            "ev": {"type": "upload.stored", "user": "u", "title": f"n{i}"}}
           for i in range(300)]
    out = claim(sec, USERS["web"], "web", *evs)
    assert out[0]["t"] == "welcome"
    assert [o["t"] for o in out[1:]] == ["ack"] * 300
    assert "over [notifyd] bridge_rate" in sec.log("notifyd")
    assert len([e for e in sec.events() if e["title"].startswith("n")]) \
        == 300


def test_a_bridge_that_never_reads_holds_up_nobody(running):
    """The web uid sends big unsubscribes and never reads the answers:
    notifyd queues them, closes it at 1 MiB, and never waits on it; the
    mail domain's events keep flowing meanwhile."""
    sec = running
    sec.stop("bridge-web")
    attack = r"""
import json, socket, sys, time
end = time.time() + 4
while time.time() < end:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    s.send(json.dumps({"t": "hello", "v": 1, "domain": "web"}).encode())
    try:
        for _ in range(40):
            s.send(json.dumps({"t": "sup", "addr": "x" * 75000,
                               "list": "l"}).encode())
    except OSError:
        pass
    time.sleep(0.2)
    s.close()
"""
    import pwd
    import subprocess
    pw = pwd.getpwnam(USERS["web"])
    p = subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}",
                          f"--regid={pw.pw_gid}", "--clear-groups", "--",
                          "/usr/bin/python3", "-c", attack, str(sec.sock)])
    try:
        for i in range(5):
            sec.gh("--domain", "mail", "events", "enqueue", "--user", "c",
                   "--type", "mail.rejected", "--title", f"during {i}",
                   user=USERS["mail"])
        for i in range(5):
            core_event(sec, f"during {i}")
    finally:
        p.wait(30)
    assert "cannot answer" not in sec.log("notifyd")
    assert sec.procs["notifyd"].poll() is None


def test_a_big_suppression_list_reaches_the_mail_store(sec):
    """3 000 entries, many more than a socket's queue holds: streamed a
    chunk at a time as the mail bridge reads them."""
    text = sec.conf.read_text().replace(
        "[notifyd]\n", "[notifyd]\nbridge_rate = 100000\n")
    sec.conf.write_text(text)
    sec.init()
    sec.start_notifyd()
    sups = [{"t": "sup", "addr": f"user{i:05d}@example.org", "list": ""}
            for i in range(3000)]
    out = claim(sec, USERS["web"], "web", *sups)
    assert [o["t"] for o in out[1:]] == ["sup-ack"] * 3000
    sec.start_bridge("mail")

    def count():
        lines = sec.gh("--domain", "mail", "suppress", "list").stdout
        return lines.count("@example.org") >= 3000
    wait_until(count, 60, "3000 entries in the mail store")


def test_a_bridge_started_as_its_user_reloads_on_sighup(sec):
    """As the unit starts it (User=, no root at all); SIGHUP (ExecReload=)
    reads the configuration again instead of ending the bridge."""
    sec.init()
    sec.start_notifyd()
    # Type=notify: what it tells systemd, on a socket its user can reach
    path = sec.base / "notify" / "sock"
    path.parent.mkdir()
    sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sd.bind(str(path))
    sd.settimeout(20)
    os.chmod(path, 0o666)
    p = sec.start_bridge("web", user=USERS["web"],
                         env=dict(os.environ, NOTIFY_SOCKET=str(path)))
    assert p.poll() is None, sec.log("bridge-web")
    assert sd.recv(4096) == b"READY=1\nSTATUS=bridging the web domain"

    def hop(title):
        sec.gh("--domain", "web", "events", "enqueue", "--user", "bob",
               "--type", "upload.stored", "--title", title,
               user=USERS["web"])
        core_event(sec, title)

    def reloaded(what):
        before = sec.log("bridge-web").count(what)
        p.send_signal(signal.SIGHUP)
        wait_until(lambda: sec.log("bridge-web").count(what) > before, 20,
                   what)
        assert p.poll() is None

    hop("before the reload")
    reloaded("configuration reloaded")
    assert [sd.recv(4096), sd.recv(4096)] == [b"RELOADING=1", b"READY=1"]
    hop("after the reload")
    # a configuration that does not load: said, and the old one kept
    good = sec.conf.read_text()
    sec.conf.write_text(good + "[bogus]\nkey = 1\n")
    reloaded("reload failed, keeping the old configuration")
    sec.conf.write_text(good)
    hop("after the failed reload")
    # notifyd moves its socket: the bridge follows on SIGHUP
    sec.stop("notifyd")
    sec.sock = sec.run_dir / "bridge2.sock"
    sec.write_conf()
    sec.start_notifyd()
    reloaded("connecting to the new bridge_socket")
    hop("over the new socket")
    assert sec.stop("bridge-web") == 0
    msgs = []
    while True:
        msgs.append(sd.recv(4096))
        if msgs[-1] == b"STOPPING=1":
            break
    assert msgs == [b"RELOADING=1", b"READY=1"] * 2 + [b"STOPPING=1"]
    sd.close()
