"""The multi-host mode end to end (docs/cluster.md): hosts' bridges
forward their outboxes to a real three-node JetStream cluster, two
gatehouse-notifyd instances share the durable consumer and deliver to a
webhook sink.  Failures: a NATS node SIGKILLed, a notifyd SIGKILLed and
started again, a host cut off for 10 s, a credential used for another
domain's subject.  Every event must be delivered; a duplicate only with
the same idempotency key (counted, and said)."""
import collections
import json
import signal
import socket
import threading
import time

from cl_support import Gatehouse, wait_until


def delivered(sink):
    """title -> [idempotency keys], over every request the sink got."""
    out = collections.defaultdict(list)
    for r in sink.got("/hook"):
        if r["status"] != 200:
            continue
        body = json.loads(r["body"])
        out[body["title"]].append(r["headers"].get("idempotency-key"))
    return out


def wait_all(sink, titles, timeout=90, why=""):
    titles = set(titles)
    return wait_until(lambda: titles <= set(delivered(sink)), timeout,
                      f"{len(titles)} events delivered {why}"
                      f"(missing {sorted(titles - set(delivered(sink)))[:5]})",
                      step=0.2)


def check_duplicates(sink, titles):
    """Each title at least once; more than once only with one key.
    Returns how many extra deliveries there were."""
    got = delivered(sink)
    extra = 0
    for t in titles:
        keys = got[t]
        assert keys, f"{t} never delivered"
        assert len(set(keys)) == 1, f"{t} delivered with keys {keys}"
        extra += len(keys) - 1
    return extra


def produce(host, dom, prefix, n):
    titles = [f"{host.name}-{dom}-{prefix}-{i}" for i in range(n)]
    for t in titles:
        host.enqueue(dom, t)
    return titles


def test_two_hosts_two_notifyds_exactly_once(world):
    a, b = world.host("hostA"), world.host("hostB")
    n1, n2 = world.notifyd("nd1"), world.notifyd("nd2")
    for x in (a, b, n1, n2):
        x.start()
    titles = []
    for h in (a, b):
        titles += produce(h, "mail", "x", 15)
        titles += produce(h, "web", "x", 15)
    # a web host may not raise a login alert: refused by the core,
    # dead-lettered in the cluster, never delivered
    a.enqueue("web", "forged", type_="login.new_host")
    t0 = time.monotonic()
    wait_all(world.sink, titles)
    took = time.monotonic() - t0
    assert check_duplicates(world.sink, titles) == 0
    got = delivered(world.sink)
    assert "forged" not in got
    # each event once, with a key naming where it came from
    assert all(k[0].startswith(("hostA:", "hostB:")) for k in got.values())
    # both instances took part, and their counts add up
    def committed(n):
        return n.metrics().get(
            'gatehouse_cluster_received_total{outcome="committed"}', 0)
    wait_until(lambda: committed(n1) + committed(n2) == len(titles), 20,
               "the instances' counts")
    # the outboxes were emptied only by JetStream's acks
    for h in (a, b):
        for d in ("mail", "web"):
            assert not h.outbox(d, "ready,leased")
    # gatehouse cluster status --json: both hosts' heartbeats, the stream
    # with 3 replicas and a leader, the consumer, the bucket
    st = wait_until(lambda: (lambda s: s if {(x["host"], x["domain"])
                                              for x in s["hosts"]} >=
                             {("hostA", "mail"), ("hostB", "web")} else None)(
        n1.gh.run("cluster", "status", json_out=True)), 20, "heartbeats")
    names = {s["name"]: s for s in st["streams"]}
    assert names["GATEHOUSE_EVENTS"]["replicas"] == 3
    assert names["GATEHOUSE_EVENTS"]["leader"]
    # the forged event, in the dead letters
    def dead():
        s = n1.gh.run("cluster", "status", json_out=True)
        return {x["name"]: x for x in s["streams"]}[
            "GATEHOUSE_EVENTS_DEAD"]["messages"]
    assert wait_until(dead, 20, "the dead letter") == 1
    assert [c for c in st["consumers"] if c["name"] == "notifyd"]
    assert [b for b in st["buckets"] if b["bucket"] == "gatehouse_hosts"]
    hosts = {(x["host"], x["domain"]): x for x in st["hosts"]}
    assert hosts[("hostA", "mail")]["published"] >= 15
    text = n1.gh.run("cluster", "status").stdout
    assert "hostA" in text and "GATEHOUSE_EVENTS" in text
    # /metrics: each host's backlog and lag (read every 15 s)
    key = 'gatehouse_cluster_host_backlog{host="hostB",domain="mail"}'
    m = wait_until(lambda: (lambda m: m if key in m else None)(n2.metrics()),
                   45, "the heartbeats in /metrics")
    assert m[key] == 0
    assert 'gatehouse_cluster_host_lag_seconds{host="hostA",domain="web"}' in m
    assert m["gatehouse_cluster_connected"] == 1
    print(f"\n{len(titles)} events, 2 hosts, 2 notifyds: {took:.2f} s "
          f"({len(titles) / took:.0f} events/s end to end)")


def test_a_nats_node_killed_mid_stream(world):
    a, b = world.host("hostA"), world.host("hostB")
    n1, n2 = world.notifyd("nd1"), world.notifyd("nd2")
    for x in (a, b, n1, n2):
        x.start()
    titles = produce(a, "mail", "before", 20) + produce(b, "web", "before", 20)
    wait_until(lambda: len(delivered(world.sink)) >= 5, 60, "a first few")
    # the node every client connected to first (the first URL)
    world.cluster.kill_node(0)
    titles += produce(a, "mail", "after", 20) + produce(b, "web", "after", 20)
    wait_all(world.sink, titles, why="after a node was killed ")
    extra = check_duplicates(world.sink, titles)
    print(f"\nnode killed: {len(titles)} delivered, {extra} duplicates "
          f"(same key)")


def test_a_notifyd_killed_and_restarted(world):
    a, b = world.host("hostA"), world.host("hostB")
    n1, n2 = world.notifyd("nd1"), world.notifyd("nd2")
    for x in (a, b, n1, n2):
        x.start()
    # slow the sink down so that events are in flight when nd1 dies
    world.sink.set("/hook", mode="delay", delay=0.05)
    titles = produce(a, "mail", "k", 40) + produce(b, "web", "k", 40)
    wait_until(lambda: len(delivered(world.sink)) >= 10, 60, "a first few")
    n1.kill()
    time.sleep(1)
    n1.start()
    wait_all(world.sink, titles, why="after a notifyd was killed ")
    extra = check_duplicates(world.sink, titles)
    dups = sum(n.metrics().get(
        'gatehouse_cluster_received_total{outcome="duplicate"}', 0)
        for n in (n1, n2))
    print(f"\nnotifyd killed: {len(titles)} delivered, {extra} duplicate "
          f"deliveries (same key), {dups:.0f} events recognised again")


class Proxy:
    """A TCP proxy on a free port to one NATS node, that can be cut: every
    connection dropped and new ones refused until it is joined again."""

    def __init__(self, port):
        self.target = port
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.cut = False
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            if self.cut:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for x, y in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(x, y),
                                 daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set_cut(self, cut):
        self.cut = cut
        if cut:
            with self.lock:
                for s in self.conns:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()
                self.conns = []

    def close(self):
        self.set_cut(True)
        self.ls.close()


def test_a_host_cut_off_for_10_seconds(world, tmp_path):
    proxy = Proxy(world.cluster.nodes[1]["port"])
    try:
        a = world.host("hostA", nats_extra="")
        # host A reaches the cluster only through the proxy
        text = a.conf.read_text().replace(
            f"servers = {world.cluster.urls()}",
            f"servers = nats://127.0.0.1:{proxy.port}")
        a.conf.write_text(text)
        n1 = world.notifyd("nd1")
        a.start()
        n1.start()
        titles = produce(a, "mail", "pre", 5)
        wait_all(world.sink, titles)
        before = len(a.bridges["mail"].text())
        proxy.set_cut(True)
        t0 = time.monotonic()
        cut = produce(a, "mail", "cut", 20) + produce(a, "web", "cut", 10)
        # accepted locally meanwhile: waiting in the host's outboxes
        assert len(a.outbox("mail", "ready,leased")) == 20, \
            (a.outbox("mail"), a.bridges["mail"].text())
        time.sleep(max(0, 10 - (time.monotonic() - t0)))
        assert not set(cut) & set(delivered(world.sink))
        proxy.set_cut(False)
        titles += cut
        wait_all(world.sink, titles, why="after the cut ")
        assert check_duplicates(world.sink, titles) == 0
        # the cut and the return, said once each
        log = a.bridges["mail"].text()[before:]
        assert log.count("forwarding stopped") == 1, log
        assert log.count("forwarding to NATS") == 1, log
    finally:
        proxy.close()


def test_a_web_credential_cannot_publish_to_a_mail_subject(world):
    # host C's mail bridge holds the web domain's key: the server refuses
    # its publishes to gatehouse.events.mail.hostC
    c = world.host("hostC", domains=("mail",),
                   seed_path=world.cluster.keys["web"][2])
    a = world.host("hostA", domains=("mail",))
    n1 = world.notifyd("nd1")
    for x in (c, a, n1):
        x.start()
    c.enqueue("mail", "smuggled")
    ok = produce(a, "mail", "ok", 3)
    wait_all(world.sink, ok)
    time.sleep(6)   # a few publish attempts (each waits connect_timeout)
    assert "smuggled" not in delivered(world.sink)
    # still in host C's outbox, not acked
    assert [e for e in c.outbox("mail", "ready,leased")
            if e["title"] == "smuggled"]
    # the bridge says why: the server's own words
    assert "Permissions Violation for Publish to \"gatehouse.events.mail." \
        "hostC\"" in c.bridges["mail"].text()
    nodes_log = "".join(n["log"].read_text(errors="replace")
                        for n in world.cluster.nodes)
    assert "Publish Violation" in nodes_log
    assert 'Subject "gatehouse.events.mail.hostC"' in nodes_log


def test_single_host_mode_without_nats(tmp_path):
    """[nats] unset: cluster status says so; nothing else changes (the
    other suites run without [nats])."""
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {tmp_path / 'store'}\n")
    p = Gatehouse(conf).run("cluster", "status", check=False)
    assert p.returncode == 78 and "[nats] servers is not set" in p.stderr


def test_a_secret_others_may_read_is_refused(world, tmp_path):
    seed = tmp_path / "loose.nk"
    seed.write_text(world.cluster.keys["mail"][0] + "\n")
    seed.chmod(0o644)
    h = world.host("hostD", domains=("mail",), seed_path=seed)
    b = h.start_bridge("mail")
    rc = b.proc.wait(30)
    assert rc == 77, b.text()
    assert "lets group or others read" in b.text()


def test_a_delivery_given_up_is_dead_lettered_in_the_cluster(world):
    a = world.host("hostA", domains=("mail",))
    n1 = world.notifyd("nd1")
    n1.conf.write_text(n1.conf.read_text().replace(
        "backoff_base = 100ms", "max_attempts = 2\nbackoff_base = 100ms"))
    world.sink.set("/hook", mode="fail", status=503)
    a.start()
    n1.start()
    a.enqueue("mail", "unlucky")

    def dead():
        s = n1.gh.run("cluster", "status", json_out=True)
        d = {x["name"]: x for x in s["streams"]}.get("GATEHOUSE_EVENTS_DEAD")
        return d and d["messages"] >= 1
    wait_until(dead, 60, "the given-up delivery in GATEHOUSE_EVENTS_DEAD")
    assert len(world.sink.got("/hook")) == 2
    m = n1.metrics()
    assert m["gatehouse_cluster_dead_published_total"] == 1


def test_config_check_judges_nats(tmp_path):
    seed = tmp_path / "core.nk"
    seed.write_text("SU...\n")
    seed.chmod(0o640)
    (tmp_path / "mail.nk").symlink_to(seed)
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {tmp_path / 'store'}\n"
                    f"mail = {tmp_path / 'mail'}\n\n[nats]\n"
                    f"servers = nats://127.0.0.1:4222, http://x\n"
                    f"host = a.b\nnkey_seed = {tmp_path}/%d.nk\n")
    p = Gatehouse(conf).run("config", "check", "--only", "nats", check=False)
    assert p.returncode == 78, p.stderr
    assert '[nats] host "a.b"' in p.stderr
    assert '"http://x" is not a nats://' in p.stderr
    assert "core.nk (the core domain's NATS secret): mode 0640" in p.stderr
    assert "mail.nk (the mail domain's NATS secret): not a regular file " \
        "(a link: refused)" in p.stderr
    seed.chmod(0o600)
    (tmp_path / "mail.nk").unlink()
    (tmp_path / "mail.nk").write_text("SU...\n")
    (tmp_path / "mail.nk").chmod(0o600)
    conf.write_text(conf.read_text().replace(", http://x", "")
                    .replace("a.b", "mx1"))
    p = Gatehouse(conf).run("config", "check", "--only", "nats", check=False)
    assert p.returncode == 0, p.stderr


def raw(world, dom):
    from natsraw import RawNats
    seed, pub, _ = world.cluster.keys[dom]
    return RawNats(world.cluster.nodes[0]["port"], seed, pub)


def test_what_a_bridge_would_never_send(world):
    """Published by hand: the same event twice past JetStream's duplicate
    check (another Nats-Msg-Id) is recognised by notifyd and delivered
    once; a body that is no bridge message is dead-lettered; the web
    domain's user cannot publish on a mail subject at all."""
    n1 = world.notifyd("nd1")
    n1.start()
    wait_until(lambda: "taking events" in n1.text(), 60, "the consumer")
    body = json.dumps({"t": "ev", "id": 7, "at": 1700000000000,
                       "ev": {"type": "mail.rejected", "user": "alice",
                              "title": "twice"}})
    core = raw(world, "core")
    assert core.publish("gatehouse.events.mail.hostZ", body, "a") == "PONG"
    assert core.publish("gatehouse.events.mail.hostZ", body, "b") == "PONG"
    assert core.publish("gatehouse.events.mail.hostZ", "not json",
                        "c") == "PONG"
    core.close()
    web = raw(world, "web")
    ans = web.publish("gatehouse.events.mail.hostZ",
                      body.replace("twice", "smuggled"), "d")
    web.close()
    assert "Permissions Violation" in ans
    wait_all(world.sink, ["twice"])
    dup = 'gatehouse_cluster_received_total{outcome="duplicate"}'
    refused = 'gatehouse_cluster_received_total{outcome="refused"}'
    m = wait_until(lambda: (lambda m: m if m.get(dup) == 1 and
                            m.get(refused) == 1 else None)(n1.metrics()),
                   20, "the duplicate and the refusal counted")
    assert m['gatehouse_cluster_received_total{outcome="committed"}'] == 1
    got = delivered(world.sink)
    assert got["twice"] == ["hostZ:mail:7:1700000000000:hook:alice"]
    assert "smuggled" not in got
    assert "event from hostZ (mail) refused: not a bridge message" \
        in n1.text()


def test_servers_down_at_start(tmp_path):
    """No server answers: the bridge starts anyway, keeps the events in
    its outbox and stops cleanly; cluster status gives up after
    connect_timeout."""
    from cl_support import BRIDGE, Proc, free_port
    port = free_port()
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {tmp_path / 'core'}\nsync = no\n"
                    f"mail = {tmp_path / 'mail'}\n\n[nats]\n"
                    f"servers = nats://127.0.0.1:{port}\nhost = lonely\n"
                    f"connect_timeout = 1s\n")
    gh = Gatehouse(conf)
    gh.run("store", "init")
    t0 = time.monotonic()
    p = gh.run("cluster", "status", check=False)
    assert p.returncode == 75 and "no server" in p.stderr
    assert time.monotonic() - t0 < 10
    b = Proc([BRIDGE, "-c", conf, "mail"], tmp_path / "bridge.log")
    gh.run("--domain", "mail", "events", "enqueue", "--user", "alice",
           "--type", "mail.rejected", "--title", "kept")
    wait_until(lambda: "forwarding stopped" in b.text(), 20, b.text())
    assert b.proc.poll() is None
    assert [e["title"] for e in gh.run("--domain", "mail", "events", "list",
                                       "--state", "ready,leased",
                                       json_out=True)] == ["kept"]
    assert b.stop() == 0


def test_a_batch_jetstream_takes_in_part(world):
    """The bridge publishes a round's events together and acks in the
    outbox exactly those JetStream acknowledged: with the stream refusing
    messages over 700 bytes, the big event (first in the outbox, so in
    the same batch as the others) stays in the outbox, given back, while
    the small ones after it are delivered; it goes once the stream takes
    it.  (Publishing one at a time and stopping at the first refusal, the
    small ones would wait behind it.)"""
    a, n1 = world.host("hostA", domains=("mail",)), world.notifyd("nd1")
    n1.start()
    wait_until(lambda: "taking events" in n1.text(), 60, "the consumer")
    core = raw(world, "core")
    api = "$JS.API.STREAM.%s.GATEHOUSE_EVENTS"

    def max_msg_size(n):
        cfg = core.request_json(api % "INFO", "", "_GH_INBOX.core.t1")["config"]
        cfg["max_msg_size"] = n
        ans = core.request_json(api % "UPDATE", json.dumps(cfg),
                           "_GH_INBOX.core.t2")
        assert "error" not in ans, ans
    max_msg_size(700)
    big = "big-" + "x" * 1000
    a.enqueue("mail", big)
    small = produce(a, "mail", "small", 10)
    a.start()
    wait_all(world.sink, small)
    bridge = a.bridges["mail"]
    wait_until(lambda: "message size exceeds maximum" in bridge.text(), 20,
               "the refusal logged")
    assert [e["title"] for e in a.outbox("mail", "ready,leased")] == [big]
    assert big not in delivered(world.sink)
    # said once, and the cluster not reported down for it
    time.sleep(3)
    more = produce(a, "mail", "more", 3)
    wait_all(world.sink, more)
    assert bridge.text().count("JetStream refused 1 event(s)") == 1
    assert "forwarding stopped" not in bridge.text()
    max_msg_size(-1)
    wait_all(world.sink, [big])
    core.close()
    wait_until(lambda: not a.outbox("mail", "ready,leased"), 20,
               "the outbox emptied")
    assert check_duplicates(world.sink, small + more + [big]) == 0


def test_web_cannot_take_the_ids_of_login_events(world):
    """JetStream's duplicate check spans the stream: a web user that
    publishes (on its own subject, all it may) under the ids another host's
    login events would have must not get those events dropped as
    duplicates.  The bridge's ids carry a tag only the domain's store knows
    (bridge/forward.c), so the guessed HOST:DOMAIN:ID ids miss."""
    n1 = world.notifyd("nd1")
    n1.start()
    wait_until(lambda: "taking events" in n1.text(), 60, "the consumer")
    web = raw(world, "web")
    for i in range(1, 21):
        for mid in (f"hostA:login:{i}", f"hostA:login:{i}:0"):
            ans = web.publish("gatehouse.events.web.web1", "x", mid)
            assert ans == "PONG", ans
    web.close()
    a = world.host("hostA", domains=("login",))
    a.start()
    victims = produce(a, "login", "victim", 3)
    wait_all(world.sink, victims, why="despite ids published beforehand ")
    assert not a.outbox("login", "ready,leased,dead")
