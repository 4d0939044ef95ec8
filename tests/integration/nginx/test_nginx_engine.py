"""One libclamav engine for all workers: compiled in nginx's master before
the workers fork (they share its pages), never during `nginx -t`, compiled
again by a reload whose signatures changed (new workers use it, requests
in flight finish, none fails), and a reload whose signatures do not load
is refused while the running workers keep scanning with the engine they
have."""
import os
import re
import signal
import threading
import time

import pytest

from gh_http import multipart, part, post, png_bytes
from ngx_support import EICAR, Nginx, check_log, free_port, make_clamav_db

COMPILED = "clamav engine compiled in master"

HTTP = """\
    gatehouse_conf {ghconf};
    gatehouse_clamav_db {db};
    server {{
        listen 127.0.0.1:{rport} reuseport;
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_category images png;
            gatehouse_upload_category notes txt mime=text/plain;
            add_header X-Worker $pid always;
        }}
    }}
"""

SERVER = """\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_category images png;
            gatehouse_upload_category notes txt mime=text/plain;
            add_header X-Worker $pid always;
        }}
"""

# a string no signature of make_clamav_db's matches, until the reload test
# adds one for it
MARKER = b"GATEHOUSE-RELOAD-TEST-" + os.urandom(8).hex().encode()


@pytest.fixture
def two_workers():
    n = Nginx()
    n.db = make_clamav_db(n.prefix / "clamav")
    n.rport = free_port()
    n.write(http=HTTP.format(ghconf=n.ghconf, db=n.db, rport=n.rport,
                             uploads=n.uploads),
            server=SERVER.format(uploads=n.uploads))
    n.conf.write_text(n.conf.read_text().replace("worker_processes 1;",
                                                 "worker_processes 2;"))
    try:
        yield n
    finally:
        started = n.started
        log = n.error_log()
        n.cleanup()
    if started:
        check_log(log, n.log_allow)


def upload(port, data, name):
    return post(port, "/scan", multipart([part("f", data, name)]))


def master_lines(log, master):
    return [ln for ln in log.splitlines() if f" {master}#{master}: " in ln]


def worker_pids(n):
    """The master's live children: its workers."""
    out = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == n.proc.pid:
            out.add(int(pid))
    return out


def wait_gone(n, pids, timeout=30):
    deadline = time.monotonic() + timeout
    while pids & worker_pids(n) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pids & worker_pids(n), "old workers still running"
    # and the new ones are there
    deadline = time.monotonic() + timeout
    while len(worker_pids(n)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


def reload(n, until, what, timeout=60):
    """SIGHUP the master; wait for until(log)."""
    n.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = n.error_log()
        if until(log):
            return log
        time.sleep(0.05)
    raise AssertionError(f"no {what} after the reload:\n{n.error_log()}")


def test_compiled_once_in_master_and_both_workers_scan(two_workers):
    n = two_workers
    n.start()
    master = n.proc.pid
    log = n.error_log()
    assert log.count(COMPILED) == 1, log
    # the master's own line, and no worker compiles or logs one
    assert any(COMPILED + ": 2 signatures" in ln
               for ln in master_lines(log, master)), log
    assert "clamav engine ready" not in log
    # reuseport: every worker has its own socket, new connections spread
    seen = {}
    for i in range(200):
        r = upload(n.rport, EICAR, f"e{i}.txt")
        assert r.status == 422, r
        assert r.json()["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
        seen[int(r.headers["x-worker"])] = True
        if len(seen) == 2:
            break
    assert len(seen) == 2, f"one worker answered all: {seen}"
    assert master not in seen
    assert set(seen) <= worker_pids(n)
    assert n.error_log().count(COMPILED) == 1


def test_nginx_t_does_not_compile(two_workers):
    """`nginx -t` stays fast: it reads the configuration and loads no
    signatures (its notice would land in the same error log)."""
    n = two_workers
    p = n.test()
    assert p.returncode == 0, p.stderr
    assert COMPILED not in n.error_log() + p.stderr
    # a database libclamav refuses does not fail -t either: it is the
    # reload that refuses it (test below)
    (n.db / "broken.ndb").write_text("this is not a signature\n")
    p = n.test()
    assert p.returncode == 0, p.stderr
    assert COMPILED not in n.error_log() + p.stderr


def test_reload_brings_new_signatures_without_failing_a_request(two_workers):
    n = two_workers
    n.start()
    master = n.proc.pid
    r = upload(n.port, MARKER + b"\n", "marker.txt")
    assert r.status == 201 and r.json()["scan"] == "clean", r

    # a reload that changed no signature keeps the engine: no compile
    first = worker_pids(n)
    log = reload(n, lambda log: "clamav engine kept" in log, "kept engine")
    assert log.count(COMPILED) == 1, log
    wait_gone(n, first)

    statuses, errors, stop = [], [], threading.Event()

    def client():
        i = 0
        while not stop.is_set():
            data = EICAR if i % 2 else png_bytes(i)
            name = f"loop{i}.txt" if i % 2 else f"loop{i}.png"
            try:
                r = upload(n.port, data, name)
                statuses.append((i % 2, r.status))
            except OSError as e:
                errors.append(repr(e))
            i += 1

    old = worker_pids(n)
    assert len(old) == 2, old
    (n.db / "reload.ndb").write_text(
        f"Gatehouse.Test.Reload:0:*:{MARKER.hex()}\n")
    t = threading.Thread(target=client)
    t.start()
    try:
        time.sleep(0.3)
        log = reload(n, lambda log: log.count(COMPILED) == 2, "compile")
        assert any(COMPILED + ": 3 signatures" in ln
                   for ln in master_lines(log, master)), log
        # the old workers finish what they have and leave
        wait_gone(n, old)
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors
    assert len(statuses) > 10, statuses
    bad = [(eicar, s) for eicar, s in statuses
           if s != (422 if eicar else 201)]
    assert not bad, bad

    r = upload(n.port, MARKER + b"\n", "marker.txt")
    assert r.status == 422, r
    assert r.json()["signature"] == "Gatehouse.Test.Reload.UNOFFICIAL"
    assert int(r.headers["x-worker"]) not in old


def test_reload_with_broken_database_keeps_old_workers(two_workers):
    n = two_workers
    n.log_allow = ("reload refused",)
    n.start()
    old = worker_pids(n)
    assert len(old) == 2, old
    (n.db / "broken.ndb").write_text("this is not a signature\n")
    log = reload(n, lambda log: "reload refused" in log, "refusal")
    line = next(ln for ln in log.splitlines() if "reload refused" in ln)
    assert "[emerg]" in line, line
    assert re.search(r'the signatures in ".*/clamav" failed to load '
                     r'\(clamav: loading .*/clamav: .+\); the running '
                     r'workers keep the engine they have', line), line
    time.sleep(0.5)
    assert worker_pids(n) == old
    assert log.count(COMPILED) == 1, log
    r = upload(n.port, EICAR, "e.txt")
    assert r.status == 422, r
    assert int(r.headers["x-worker"]) in old
    r = upload(n.port, png_bytes(), "a.png")
    assert r.status == 201, r

    # fixed, the next reload goes through
    (n.db / "broken.ndb").unlink()
    reload(n, lambda log: log.count(COMPILED) == 2
           or "clamav engine kept" in log, "reload")
