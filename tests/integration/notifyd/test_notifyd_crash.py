"""The crash test of gatehouse-notifyd: deliveries survive SIGKILL.

1 000 events go to a webhook sink that fails 30% of requests at random,
while gatehouse-notifyd is SIGKILLed at random moments and restarted.
Every 20th event also names a second channel whose receiver always fails.
At the end:
  - every event reached the flaky sink (a 2xx answer for its key);
  - a repeated delivery only ever carries the same idempotency key (the
    same event, channel and recipient), and every request's body agrees
    with its key;
  - dead letters are exactly the deliveries to the always-failing
    receiver, and the events that had one.
ROUNDS (environment, default 1) sets the rounds; `make notify-crashtest`
runs 10.  Each round takes well under a minute.
"""
import collections
import concurrent.futures
import json
import os
import random
import time

import pytest

from nd_support import wait_until

EVENTS = int(os.environ.get("CRASH_EVENTS", "1000"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
KILLS = 8


def enqueue_all(env):
    def one(i):
        args = ["events", "enqueue", "--user", f"u{i % 50}", "--type",
                "crash.test", "--title", f"e{i}", "--metadata",
                json.dumps({"n": i})]
        if i % 20 == 0:
            args += ["--channel", "hook", "--channel", "dead"]
        return i, env.gh(*args, json_out=True)["id"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, range(EVENTS)))


def unsettled(env):
    return env.gh("events", "list", "--state", "ready,leased", "--limit", "1",
                  json_out=True)


def one_round(env, http_sink, seed):
    rnd = random.Random(seed)
    http_sink.set("/crash", "fail", status=503, ratio=0.3, seed=seed)
    http_sink.set("/dead", "fail", status=500)
    env.write_conf(
        f"[channel.hook]\ntype = webhook\nurl = {http_sink.url('/crash')}\n"
        f"secret = k\nbackoff_base = 50ms\nbackoff_cap = 400ms\n"
        f"max_attempts = 40\nbreaker_threshold = 1000\n\n"
        f"[channel.dead]\ntype = webhook\nurl = {http_sink.url('/dead')}\n"
        f"backoff_base = 50ms\nbackoff_cap = 100ms\nmax_attempts = 3\n"
        f"breaker_threshold = 1000\n",
        notifyd="default_channels = hook\nbatch = 32\n",
        queue="visibility = 2s\n")
    started = time.time()
    env.start()
    # the producers run while notifyd is being killed
    with concurrent.futures.ThreadPoolExecutor(1) as producer:
        fut = producer.submit(enqueue_all, env)
        kills = 0
        while kills < KILLS and (not fut.done() or unsettled(env)):
            time.sleep(rnd.uniform(0.2, 1.0))
            env.kill()
            kills += 1
            env.start()
        ids = fut.result()
    wait_until(lambda: not unsettled(env), 50, "every event to settle")
    assert env.stop() == 0
    took = time.time() - started

    by_id = {eid: i for i, eid in ids.items()}
    expect = {}
    for i, eid in ids.items():
        expect[f"{eid}:hook:u{i % 50}"] = eid
    ok = collections.defaultdict(list)
    for r in http_sink.got("/crash"):
        key = r["headers"]["idempotency-key"]
        body = json.loads(r["body"])
        # every request is for a real delivery, and agrees with its key
        assert key in expect, key
        assert body["id"] == expect[key] and body["idempotency_key"] == key
        assert body["recipient"] == key.split(":", 2)[2]
        if r["status"] == 200:
            ok[body["id"]].append(key)
    # every event delivered; duplicates only under the same key
    missing = [eid for eid in by_id if eid not in ok]
    assert not missing, f"never delivered: {missing[:10]}"
    for eid, keys in ok.items():
        assert len(set(keys)) == 1, (eid, keys)
    dups = sum(len(k) - 1 for k in ok.values())
    # dead letters exactly where the receiver always fails
    dead = {e["id"] for e in env.gh("events", "list", "--state", "dead",
                                    "--limit", "0", json_out=True)}
    assert dead == {eid for i, eid in ids.items() if i % 20 == 0}
    dl = env.gh("deliveries", "list", "--state", "dead", "--limit", "0",
                json_out=True)
    assert {d["channel"] for d in dl} == {"dead"}
    assert {d["event"] for d in dl} == dead
    done = env.gh("events", "list", "--state", "done", "--limit", "0",
                  json_out=True)
    assert len(done) + len(dead) == EVENTS
    print(f"round {seed}: {EVENTS} events, {kills} kills, "
          f"{len(http_sink.got('/crash'))} requests, {dups} duplicates "
          f"(same key), {len(dead)} dead letters, {took:.1f} s")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_crash_round(env, http_sink, round_):
    one_round(env, http_sink, 1000 + round_)
