"""One libclamav engine for all workers: compiled in nginx's master before
the workers fork (they share its pages), never during `nginx -t`, compiled
again by a reload whose signatures changed (new workers use it, requests
in flight finish, none fails), and a reload whose signatures do not load
is refused while the running workers keep scanning with the engine they
have."""
import configparser
import io
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import zipfile

import pytest

from gh_http import ctype, multipart, part, post, png_bytes, read_response, \
    request_head
from ngx_support import EICAR, NGINX, ROOT, WORKER_USER, Nginx, check_log, \
    free_port, make_clamav_db, wait_for

COMPILED = "clamav engine compiled in master"

HTTP = """\
    gatehouse_conf {ghconf};
    gatehouse_clamav_db {db};
    gatehouse_clamav_tmp {clamtmp};
    server {{
        listen 127.0.0.1:{rport} reuseport;
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_category images png;
            gatehouse_upload_category notes txt mime=text/plain;
            gatehouse_upload_category archives zip;
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
                             uploads=n.uploads,
                             clamtmp=n.prefix / "tmp" / "clamav"),
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


def zip_of(data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/eicar.com", data)
    return buf.getvalue()


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
    # libclamav started no thread in the master (it forks the workers)
    assert os.listdir(f"/proc/{master}/task") == [str(master)]
    # reuseport: every worker has its own socket, new connections spread;
    # a zip is unpacked in gatehouse_clamav_tmp, as the worker user
    zipped = zip_of(EICAR)
    seen = {}
    for i in range(200):
        r = upload(n.rport, EICAR, f"e{i}.txt")
        assert r.status == 422, r
        assert r.json()["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
        r = upload(n.rport, zipped, f"e{i}.zip")
        assert r.status == 422, r
        assert r.json()["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
        seen[int(r.headers["x-worker"])] = True
        if len(seen) == 2:
            break
    assert len(seen) == 2, f"one worker answered all: {seen}"
    if n.root:
        # made by nginx for the workers' user, not the master's root
        tmp = n.prefix / "tmp" / "clamav"
        assert tmp.stat().st_uid == pwd.getpwnam(WORKER_USER).pw_uid
        assert os.listdir(tmp) == []    # every scan's directory removed
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
    # an upload under way on an old worker during the reload
    held_body = multipart([part("f", MARKER + b"\n", "held.txt")])
    held = socket.create_connection(("127.0.0.1", n.port), timeout=30)
    held.sendall(request_head("/scan", ctype(), len(held_body))
                 + held_body[:40])
    t = threading.Thread(target=client)
    t.start()
    try:
        time.sleep(0.3)
        log = reload(n, lambda log: log.count(COMPILED) == 2, "compile")
        assert any(COMPILED + ": 3 signatures" in ln
                   for ln in master_lines(log, master)), log
        wait_for(lambda: len(worker_pids(n) - old) == 2, "new workers")
        # it finishes on its old worker, scanned by the old engine
        held.sendall(held_body[40:])
        r = read_response(held)
        held.close()
        assert r.status == 201 and r.json()["scan"] == "clean", r
        assert int(r.headers["x-worker"]) in old
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


def test_nginx_s_reload(two_workers):
    """What nginx.service's ExecReload (and so the path unit) runs: the
    signalling process reads the configuration but loads no signatures
    (it logs nothing of its own: strace shows what it opens); the master
    reloads."""
    n = two_workers
    n.start()
    master = n.proc.pid
    cmd = [NGINX, "-p", str(n.prefix), "-c", str(n.conf), "-s", "reload"]
    strace = shutil.which("strace")
    if strace:
        cmd = [strace, "-f", "-e", "trace=openat,open", "-o",
               str(n.prefix / "signaller.trace")] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    if strace:
        trace = (n.prefix / "signaller.trace").read_text()
        assert str(n.conf) in trace     # it did read the configuration
        assert "gatehouse-test.ndb" not in trace, trace
    log = wait_for(lambda: "clamav engine kept" in n.error_log()
                   and n.error_log(), "reload")
    engine_lines = [ln for ln in log.splitlines()
                    if COMPILED in ln or "clamav engine kept" in ln]
    assert len(engine_lines) == 2, log
    assert all(f" {master}#{master}: " in ln for ln in engine_lines), log


def unit(name):
    """A unit file's keys (the last value of each), by section."""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string((ROOT / "conf/systemd" / name).read_text())
    return cp


def test_reload_path_unit():
    """gatehouse-nginx-reload.path watches the directory freshclam updates
    (Debian's DatabaseDirectory) and starts the service, which reloads a
    running nginx; both are packaged with the module, and Debian's
    postinst never starts the service by itself (`make check-units`
    verifies and rates them)."""
    path = unit("gatehouse-nginx-reload.path")
    svc = unit("gatehouse-nginx-reload.service")
    fresh = pathlib.Path("/etc/clamav/freshclam.conf")
    dbdir = "/var/lib/clamav"
    if fresh.exists():
        for line in fresh.read_text().splitlines():
            if line.startswith("DatabaseDirectory"):
                dbdir = line.split()[1]
    assert path["Path"]["PathChanged"] == dbdir
    assert path["Path"]["Unit"] == "gatehouse-nginx-reload.service"
    assert path["Install"]["WantedBy"] == "multi-user.target"
    assert not svc.has_section("Install")
    assert svc["Service"]["Type"] == "oneshot"
    assert svc["Service"]["ExecStart"].split()[1:] == [
        "try-reload-or-restart", "nginx.service"]
    assert svc["Service"]["CapabilityBoundingSet"] == ""
    deb = (ROOT / "packaging/debian/libnginx-mod-http-gatehouse.install") \
        .read_text().split()
    spec = (ROOT / "packaging/rpm/gatehouse.spec").read_text()
    nginx_files = spec.split("%files -n nginx-mod-http-gatehouse", 1)[1] \
        .split("%files", 1)[0]
    rules = (ROOT / "packaging/debian/rules").read_text()
    for u in ("gatehouse-nginx-reload.path",
              "gatehouse-nginx-reload.service"):
        assert "${env:GH_UNITDIR}/" + u in deb
        assert "%{_unitdir}/" + u in nginx_files
    assert "-Xgatehouse-nginx-reload.service" in rules


def test_root_compiles_only_signatures_no_other_uid_could_plant(two_workers):
    """The master compiles as root, so a signature directory the workers'
    user owns, or a database another uid could write, or a link in it, is
    refused: the reload keeps the old workers and says what to fix."""
    n = two_workers
    n.log_allow = ("reload refused",)
    n.start()
    old = worker_pids(n)
    nobody = pwd.getpwnam(WORKER_USER).pw_uid
    planted = n.db / "planted.ndb"
    # a new database each time, so the reload compiles (an unchanged
    # directory keeps its engine: nothing is parsed again)
    fresh = n.db / "fresh.ndb"
    sig = (n.db / "gatehouse-test.ndb").read_text()
    for make, undo, why in [
        (lambda: os.chown(n.db, nobody, -1), lambda: os.chown(n.db, 0, -1),
         "owned by the worker user"),
        (lambda: os.chmod(n.db, 0o777), lambda: os.chmod(n.db, 0o755),
         "group or other writable"),
        (lambda: planted.symlink_to("/etc/shadow"), planted.unlink,
         "planted.ndb: root compiles"),
        (lambda: (planted.write_text(""), os.chown(planted, nobody, -1)),
         planted.unlink, "planted.ndb: root compiles"),
    ]:
        before = n.error_log().count("reload refused")
        fresh.write_text(sig.replace("Gatehouse", "Fresh", 1))
        make()
        try:
            log = reload(n, lambda log: log.count("reload refused") > before,
                         "refusal")
        finally:
            undo()
            fresh.unlink()
        line = [ln for ln in log.splitlines() if "reload refused" in ln][-1]
        assert why in line, line
        assert worker_pids(n) == old
    r = upload(n.port, EICAR, "e.txt")
    assert r.status == 422, r
