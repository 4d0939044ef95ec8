"""The multi-process queue test: at-least-once delivery under SIGKILL.

4 producer processes enqueue 10 000 events each while a consumer leases and
acks them and is killed with SIGKILL at random moments and restarted.  Every
event must be delivered at least once, none lost, and each dedup key must
yield exactly one event.  ROUNDS (environment, default 2) sets how many
rounds run; `make killtest` runs 20.
"""
import collections
import os
import random
import signal
import subprocess
import time

import pytest

from ghtest import BUILD

KILLTEST = BUILD / "tests" / "killtest"
PRODUCERS = 4
PER_PRODUCER = int(os.environ.get("KILLTEST_EVENTS", "10000"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))


def one_round(tmp, gh, seed):
    rnd = random.Random(seed)
    store = str(gh.conf.parent / "store")
    log = tmp / "delivered.log"
    done = tmp / "producers.done"
    outs = [tmp / f"producer{p}.out" for p in range(PRODUCERS)]
    producers = [subprocess.Popen([str(KILLTEST), "produce", store, str(p),
                                   str(PER_PRODUCER), str(outs[p])])
                 for p in range(PRODUCERS)]

    def start_consumer():
        return subprocess.Popen([str(KILLTEST), "consume", store, str(log),
                                 str(done)])

    consumer = start_consumer()
    kills = 0
    deadline = time.monotonic() + 600
    while any(p.poll() is None for p in producers):
        assert time.monotonic() < deadline, "producers did not finish"
        time.sleep(rnd.uniform(0.02, 0.4))
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        kills += 1
        consumer = start_consumer()
    for p in producers:
        assert p.wait() == 0, "a producer failed"
    done.write_text("")
    assert consumer.wait(timeout=600) == 0, "the consumer failed"

    # What the producers were told.
    by_key = collections.defaultdict(set)
    for out in outs:
        for line in out.read_text().splitlines():
            key, eid = line.split()
            by_key[key].add(int(eid))
    assert all(len(ids) == 1 for ids in by_key.values()), \
        "a dedup key yielded more than one event"
    expected_keys = PRODUCERS * (PER_PRODUCER - PER_PRODUCER // 4) + PER_PRODUCER // 4
    assert len(by_key) == expected_keys
    enqueued = {next(iter(ids)) for ids in by_key.values()}
    assert len(enqueued) == expected_keys

    delivered = collections.Counter(int(x) for x in log.read_text().split())
    lost = enqueued - set(delivered)
    assert not lost, f"{len(lost)} events never delivered, e.g. {sorted(lost)[:5]}"
    assert set(delivered) == enqueued, "delivered an event nobody enqueued"

    info = gh.run("store", "info", json_out=True)
    assert info["records"]["events"] == expected_keys
    assert info["queue"]["done"] == expected_keys
    assert info["queue"]["ready"] == 0 and info["queue"]["leased"] == 0
    redelivered = sum(c - 1 for c in delivered.values())
    return kills, redelivered


@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_kill_consumer_loses_nothing(tmp_path, gh, round_no):
    kills, redelivered = one_round(tmp_path, gh, seed=round_no)
    assert kills > 0, "the consumer was never killed: the test proved nothing"
    print(f"round {round_no}: {kills} kills, {redelivered} redeliveries")
