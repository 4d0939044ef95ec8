"""What a producer domain's NATS user can do to the others, tried for real
against the three-node cluster as that user (natsraw.py, the server's own
permission checks, the sample permissions of docs/cluster.md): wipe or
bloat the heartbeat bucket, fill the events stream with oversized
messages, send bodies whose dead letter cannot be written, publish on a
subject notifyd cannot attribute.  Each test fails on the code before the
security review's fixes (docs/security.md rule 13)."""
import base64
import json

from cl_support import wait_until

HOSTS = "KV_gatehouse_hosts"
REFUSED = 'gatehouse_cluster_received_total{outcome="refused"}'


def raw(world, dom):
    from natsraw import RawNats
    seed, pub, _ = world.cluster.keys[dom]
    return RawNats(world.cluster.nodes[0]["port"], seed, pub)


def api(core, what, body=""):
    ans = core.request(f"$JS.API.{what}", body, "_INBOX.core")
    assert isinstance(ans, bytes), ans
    return json.loads(ans)


def last(core, stream, subject):
    """The stored message last on subject (bytes), or None."""
    got = api(core, f"STREAM.MSG.GET.{stream}",
              json.dumps({"last_by_subj": subject}))
    if "message" not in got:
        return None
    return base64.b64decode(got["message"].get("data", ""))


def started(world, extra=""):
    n1 = world.notifyd("nd1")
    if extra:
        n1.conf.write_text(n1.conf.read_text() + extra)
    n1.start()
    wait_until(lambda: "taking events" in n1.text(), 60, "the consumer")
    return n1


def test_the_web_user_cannot_wipe_or_bloat_the_heartbeats(world):
    core = raw(world, "core")
    # a bucket as an older notifyd made it (js_CreateKeyValue: rollups
    # allowed, no limits): notifyd must tighten it, not only new ones
    old = api(core, f"STREAM.CREATE.{HOSTS}", json.dumps({
        "name": HOSTS, "subjects": ["$KV.gatehouse_hosts.>"],
        "retention": "limits", "storage": "file", "num_replicas": 3,
        "max_msgs_per_subject": 1, "discard": "new",
        "allow_rollup_hdrs": True, "deny_delete": True}))
    assert "error" not in old, old
    started(world)
    assert core.publish("$KV.gatehouse_hosts.hostA.mail",
                        '{"backlog":0,"at":1}') == "PONG"
    web = raw(world, "web")
    # the attack: one rollup from a key the web user may write
    ans = web.request("$KV.gatehouse_hosts.x.web", "{}", "_GH_INBOX.web",
                      headers={"Nats-Rollup": "all"})
    assert b'"error"' in ans, ans
    assert last(core, HOSTS, "$KV.gatehouse_hosts.hostA.mail") is not None, \
        "hostA's heartbeat was purged by the web user's rollup"
    # a value no heartbeat needs
    ans = web.request("$KV.gatehouse_hosts.y.web", "x" * 4096,
                      "_GH_INBOX.web")
    assert b'"error"' in ans, ans
    # junk keys: bounded in number and age
    cfg = api(core, f"STREAM.INFO.{HOSTS}")["config"]
    assert not cfg.get("allow_rollup_hdrs")
    assert cfg["deny_purge"] and cfg["deny_delete"]
    assert cfg["max_msg_size"] == 1024 and cfg["max_msgs"] == 4096
    assert cfg["max_age"] == 3600 * 10**9 and cfg["discard"] == "old"
    web.close()
    core.close()


def test_oversized_events_are_refused_by_the_stream(world):
    started(world, "stream_max_bytes = 64M\n")
    web = raw(world, "web")
    ans = web.request("gatehouse.events.web.hostW", "{" + " " * 200000 + "}",
                      "_GH_INBOX.web")
    assert b"maximum" in ans, ans
    web.close()
    core = raw(world, "core")
    ev = api(core, "STREAM.INFO.GATEHOUSE_EVENTS")
    assert ev["state"]["messages"] == 0
    assert ev["config"]["max_msg_size"] == 80 * 1024 + 1024
    assert ev["config"]["max_bytes"] == 64 << 20
    assert ev["config"]["discard"] == "new"
    dead = api(core, "STREAM.INFO.GATEHOUSE_EVENTS_DEAD")["config"]
    assert dead["max_bytes"] == 64 << 20
    core.close()


def test_refused_bodies_are_dead_lettered_whatever_they_hold(world):
    n1 = started(world)
    web = raw(world, "web")
    # not UTF-8, and longer than a dead letter keeps
    bad = (b"\xff\xfe" + bytes(range(256)) * 300)[:70000]
    assert web.publish("gatehouse.events.web.hostW", bad) == "PONG"
    # the sample permissions give a domain one token after its own
    assert "Permissions Violation" in web.publish(
        "gatehouse.events.web.a.b", "{}")
    web.close()
    # a subject notifyd cannot attribute (the core may publish anywhere)
    core = raw(world, "core")
    assert core.publish("gatehouse.events.web.a.b", "{}") == "PONG"
    wait_until(lambda: n1.metrics().get(REFUSED, 0) >= 2, 30,
               "the two refusals")
    got = last(core, "GATEHOUSE_EVENTS_DEAD", "gatehouse.dead.web.hostW")
    assert got is not None, "no dead letter for the non-UTF-8 body"
    rec = json.loads(got)
    assert rec["body_size"] == 70000 and rec["body_truncated"] is True
    assert base64.b64decode(rec["body_base64"]) == bad[:65536]
    assert rec["subject"] == "gatehouse.events.web.hostW"
    unk = last(core, "GATEHOUSE_EVENTS_DEAD", "gatehouse.dead.unknown")
    assert unk is not None and json.loads(unk)["subject"] == \
        "gatehouse.events.web.a.b"
    assert last(core, "GATEHOUSE_EVENTS_DEAD",
                "gatehouse.dead.core.nd1") is None
    # terminated, not handed out again: refused once each, nothing left
    assert wait_until(lambda: api(core, "STREAM.INFO.GATEHOUSE_EVENTS")
                      ["state"]["messages"] == 0, 20, "the stream emptied")
    assert n1.metrics()[REFUSED] == 2
    core.close()


def test_the_mail_user_cannot_delete_or_name_consumers(world):
    """The mail user's JetStream API rights are the ordered consumer's
    create (no name, no filter in the subject) and flow control: it
    cannot delete another MTA's watcher of the suppression list, nor use
    the named create form."""
    started(world)
    s = "KV_gatehouse_suppress"
    mail = raw(world, "mail")
    ans = mail.request(f"$JS.API.CONSUMER.DELETE.{s}.watcher", "",
                       "_GH_INBOX.mail")
    assert "Permissions Violation" in str(ans), ans
    ans = mail.request(f"$JS.API.CONSUMER.CREATE.{s}.x.$KV.gatehouse_"
                       "suppress.>", json.dumps({"stream_name": s, "config": {
                           "name": "x", "deliver_subject":
                           "$KV.gatehouse_hosts.z.mail"}}),
                       "_GH_INBOX.mail")
    assert "Permissions Violation" in str(ans), ans
    mail.close()
