"""Retention keeps the store bounded (docs/store.md, "Retention").

- 60 simulated days of traffic at a fixed rate, with gatehouse-notifyd's
  test clock: events delivered to an inbox (half of them read), mail log,
  upload and known-host records stamped with the simulated day (rectool).
  With [retention], every database stays under rate x (retention + 2
  days), and the store's size in use levels off; without, both grow past
  that.
- store.nearly_full: raised once when use passes 80% of map_max, not again
  while it stays up (nor after a restart), again once it fell below 75%
  and rose.
- gatehouse-bridge purges its own domain's store; `gatehouse store purge
  --dry-run` says what would go and deletes nothing, without it deletes.
"""
import pathlib
import subprocess
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
from nd_support import BUILD, TEMPLATES, wait_until

RECTOOL = BUILD / "tests" / "integration" / "retention" / "rectool"
BRIDGE = BUILD / "gatehouse-bridge"

DAY = 86400 * 1000
HOUR = 3600 * 1000
T0 = 1767225600000          # 2026-01-01T00:00:00Z: the simulation's day 0

# per simulated day
RATE = {"events": 12, "mail_log": 20, "uploads": 9, "known_hosts": 3}
READ_EVERY = 2              # half the day's inbox items get read

KEEP = {"events": 10, "deliveries": 7, "inbox_read": 5, "inbox_unread": 20,
        "mail_log": 14, "uploads": 14, "uploads_kept": 20, "known_hosts": 30}


def retention_conf(keep):
    lines = ["[retention]"]
    for k, days in KEEP.items():
        lines.append(f"{k} = {days}d" if keep else f"{k} = 0")
    return "\n".join(lines) + "\n"


def bounds():
    """The most records each database may hold right after a day's pass:
    a day's worth per day kept, plus two days' worth of slack (the day in
    progress, and a record exactly at a day's cutoff)."""
    per_event = 1                                   # one inbox delivery
    read = RATE["events"] // READ_EVERY
    unread = RATE["events"] - read
    return {
        "mail_log": RATE["mail_log"] * (KEEP["mail_log"] + 2),
        "events": RATE["events"] * (KEEP["events"] + 2),
        "deliveries": RATE["events"] * per_event * (KEEP["deliveries"] + 2),
        "inbox": read * (KEEP["inbox_read"] + 2) +
                 unread * (KEEP["inbox_unread"] + 2),
        # two in three refused (uploads), one in three stored (kept)
        "uploads": RATE["uploads"] * 2 // 3 * (KEEP["uploads"] + 2) +
                   RATE["uploads"] // 3 * (KEEP["uploads_kept"] + 2),
        "known_hosts": RATE["known_hosts"] * (KEEP["known_hosts"] + 2),
    }


def rectool(store, *args):
    p = subprocess.run([str(RECTOOL), str(store)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def info(env, *extra):
    return env.gh(*extra, "store", "info", json_out=True)


def metric(env, name):
    return env.metrics().get(name, 0.0)


@pytest.mark.parametrize("keep", [True, False], ids=["retention", "none"])
def test_sixty_days(env, keep):
    env.write_conf(retention_conf(keep), metrics=True)
    env.start(clock=T0)
    limit = bounds()
    records, in_use = [], []
    for day in range(60):
        t = T0 + day * DAY
        runs = metric(env, "gatehouse_store_purge_runs_total")
        rectool(env.store, "day", t, "alice", RATE["events"],
                RATE["mail_log"], RATE["uploads"], RATE["known_hosts"])
        env.set_clock(t + HOUR)
        want = RATE["events"] * (day + 1)
        wait_until(lambda: metric(
            env, 'gatehouse_notifyd_events_total{outcome="acked"}') >= want,
            30, f"day {day}'s events delivered ({env.log_tail()})")
        wait_until(lambda: metric(env, "gatehouse_store_purge_runs_total")
                   > runs, 30, f"day {day}'s retention pass")
        rectool(env.store, "read", "alice", t + 2 * HOUR, READ_EVERY, t)
        i = info(env)
        records.append(i["records"])
        in_use.append(i["in_use"])
        if keep:
            for db, most in limit.items():
                assert i["records"][db] <= most, \
                    f"day {day}: {db} holds {i['records'][db]} > {most}"
    last = records[-1]
    assert env.stop() == 0
    if keep:
        # every kind was purged, and the store's size levelled off once
        # the longest retention (30 days) was reached
        assert all(last[db] > 0 for db in limit), last
        m_days = max(KEEP.values())
        assert in_use[-1] <= in_use[m_days] * 1.25, (in_use[m_days],
                                                      in_use[-1])
        assert "retention: deleted" in env.log_text()
    else:
        # the same traffic without retention: past every bound
        for db, most in limit.items():
            assert last[db] > most, f"{db}: {last[db]} <= {most}"
        assert in_use[-1] > in_use[30] * 1.5, (in_use[30], in_use[-1])


def nearly_full_events(env):
    evs = env.gh("events", "list", "--state", "all", "--limit", "0",
                 json_out=True)
    return [e for e in evs if e["type"] == "store.nearly_full"]


def test_store_nearly_full_once(env, smtp_sink):
    """One event per crossing of 80% of map_max, told to the admins with
    the shipped template, the mark kept across a restart, re-armed once
    use falls below 75%."""
    conf = ("[retention]\nmail_log = 1d\n\n"
            f"[channel.mail]\ntype = smtp\nurl = {smtp_sink.url()}\n"
            "from = notify@example.org\nstarttls = no\n\n"
            "[route.store]\ntypes = store.nearly_full\n"
            "addresses = mail:admin@example.org\n")
    env.write_conf(conf, metrics=True, templates=TEMPLATES)
    text = env.conf.read_text().replace(
        "sync = no\n", "sync = no\nmap_size = 1M\nmap_max = 2M\n")
    env.conf.write_text(text)
    env.start(clock=T0)
    runs = lambda: metric(env, "gatehouse_store_purge_runs_total")  # noqa

    def pass_at(t):
        n = runs()
        env.set_clock(t)
        wait_until(lambda: runs() > n, 30, f"a pass at {t}")

    m = env.metrics()
    assert m['gatehouse_store_map_max_bytes{store="core"}'] == 2 * 1048576
    below = m['gatehouse_store_bytes{store="core"}']
    assert below < 0.5 * 2 * 1048576

    rectool(env.store, "fill", int(0.85 * 2 * 1048576), T0)
    pass_at(T0 + HOUR)
    assert metric(env, 'gatehouse_store_bytes{store="core"}') > \
        0.8 * 2 * 1048576
    evs = wait_until(lambda: nearly_full_events(env), 20,
                     "a store.nearly_full event")
    assert len(evs) == 1
    ev = env.event(evs[0]["id"])
    assert ev["category"] == "system"
    assert ev["recipients"] == ["admins"]
    assert ev["metadata"]["map_max"] == 2 * 1048576
    assert ev["metadata"]["percent"] >= 80
    msgs = wait_until(smtp_sink.got, 20, "the admins' mail")
    assert msgs[0]["to"] == ["admin@example.org"]
    body = msgs[0]["data"].decode()
    assert f"Subject: Gatehouse store {ev['metadata']['percent']}% full" \
        in body
    assert "[store] map_max" in body and "store purge --dry-run" in body
    # still full: no second event, neither from the next pass...
    pass_at(T0 + 2 * HOUR)
    assert len(nearly_full_events(env)) == 1
    # ...nor after a restart
    assert env.stop() == 0
    env.start(clock=T0 + 3 * HOUR)
    env.set_clock(T0 + 4 * HOUR)
    wait_until(lambda: runs() >= 1, 30, "a pass after the restart")
    assert len(nearly_full_events(env)) == 1
    # a day later the fill is past [retention] mail_log: purged, re-armed
    pass_at(T0 + 26 * HOUR)
    assert metric(env, 'gatehouse_store_bytes{store="core"}') < \
        0.75 * 2 * 1048576
    assert len(nearly_full_events(env)) == 1
    # full again: a second event
    rectool(env.store, "fill", int(0.85 * 2 * 1048576), T0 + 26 * HOUR)
    pass_at(T0 + 27 * HOUR)
    wait_until(lambda: len(nearly_full_events(env)) == 2, 20,
               "a second store.nearly_full event")
    wait_until(lambda: len(smtp_sink.got()) == 2, 20, "the second mail")
    assert env.stop() == 0


def split_env(env):
    """The mail domain with a store of its own (root's, like the core's
    in these tests)."""
    mail = env.tmp / "mail"
    env.write_conf("[retention]\nmail_log = 30d\nevents = 30d\n")
    text = env.conf.read_text().replace(
        "sync = no\n", f"sync = no\nmail = {mail}\n")
    text = text.replace("[notifyd]\n", f"[notifyd]\nbridge_socket = "
                        f"{env.tmp / 'bridge.sock'}\n")
    env.conf.write_text(text)
    env.gh("store", "init")
    return mail


def test_bridge_purges_its_store(env):
    mail = split_env(env)
    now = int(time.time() * 1000)
    rectool(mail, "day", now - 40 * DAY, "alice", 0, 5, 0, 0)
    rectool(mail, "day", now - 1 * DAY, "alice", 0, 3, 0, 0)
    rectool(env.store, "day", now - 40 * DAY, "alice", 0, 4, 0, 0)
    assert info(env, "--domain", "mail")["records"]["mail_log"] == 8
    log = open(env.tmp / "bridge.log", "ab")
    p = subprocess.Popen([str(BRIDGE), "-c", str(env.conf), "mail"],
                         stdout=log, stderr=log)
    try:
        wait_until(lambda: info(env, "--domain", "mail")["records"]
                   ["mail_log"] == 3, 30, "the bridge's retention pass")
    finally:
        p.terminate()
        p.wait(20)
        log.close()
    text = (env.tmp / "bridge.log").read_text()
    assert "retention: deleted 5 records: mail_log 5" in text, text
    # the core store is notifyd's to purge, not the bridge's
    assert info(env)["records"]["mail_log"] == 4


def test_cli_purge_dry_run(env):
    mail = split_env(env)
    now = int(time.time() * 1000)
    rectool(mail, "day", now - 40 * DAY, "alice", 0, 4, 0, 0)
    young = now - 2 * DAY
    rectool(mail, "day", young, "alice", 0, 2, 0, 0)
    out = env.gh("--domain", "mail", "store", "purge", "--dry-run",
                 json_out=True)
    assert out["dry_run"] is True and out["domain"] == "mail"
    assert out["path"] == str(mail)
    ml = out["databases"]["mail_log"]
    assert ml["would_go"] == 4 and ml["skipped"] == 0
    assert ml["oldest_kept"] == young
    assert out["commits"] == 0
    assert info(env, "--domain", "mail")["records"]["mail_log"] == 6
    text = env.gh("--domain", "mail", "store", "purge", "--dry-run").stdout
    assert "would delete 4 records" in text
    assert "mail_log" in text
    # for real now; the core store is another store
    out = env.gh("--domain", "mail", "store", "purge", json_out=True)
    assert out["databases"]["mail_log"]["deleted"] == 4
    assert info(env, "--domain", "mail")["records"]["mail_log"] == 2
    out = env.gh("--domain", "mail", "store", "purge", "--dry-run",
                 json_out=True)
    assert out["databases"]["mail_log"]["would_go"] == 0
    bad = env.gh("store", "purge", "--older-than", "1d", check=False)
    assert bad.returncode == 64
