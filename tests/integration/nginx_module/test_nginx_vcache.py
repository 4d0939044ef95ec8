"""The verdict cache (gatehouse_scan_cache, scanner/gscache.h): a file
seen again with the same signatures is answered from the web store without
a scan ("scan_cached": true in its record), across a restart of nginx; a
signature database that changes makes every earlier verdict unusable, so
a file cached clean is detected once the database has a signature for it;
errors and unscannable files are never cached; off means off."""
import io
import json
import os
import pathlib
import secrets
import signal
import time
import zipfile

import pytest

from ngx_support import EICAR, Nginx, check_log, make_clamav_db, wait_for
from gh_http import PDF, multipart, part, post


def server(n, extra=""):
    return f"""\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_max_file_size 8m;
            gatehouse_upload_on_scan_limit reject;
            gatehouse_upload_category documents pdf;
            gatehouse_upload_category notes txt mime=text/plain;
            gatehouse_upload_category archives zip;
        }}
"""


def start(n, http_extra=""):
    db = make_clamav_db(n.prefix / "clamav")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                 f"    gatehouse_clamav_db {db};\n"
                 "    gatehouse_clamav_limits max_filesize=2m;\n"
                 f"{http_extra}",
            server=server(n))
    n.start()
    return db


@pytest.fixture
def ngx():
    n = Nginx()
    try:
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    check_log(log, n.log_allow)


def upload(n, data, name):
    r = post(n.port, "/scan", multipart([part("f", data, name)]))
    a = r.json()
    return r.status, a, n.record(a["id"]) if a.get("id") else {}


def cache_entries(n):
    info = json.loads(n.gh("--json", "store", "info").stdout)
    return info["records"]["scan_cache"]


def engines_ready(n):
    """Engines made ready for workers: the master compiles one per start
    or reload whose signatures changed (or keeps the one it has)."""
    log = n.error_log()
    return (log.count("clamav engine compiled in master")
            + log.count("clamav engine kept"))


def worker_pids(n):
    kids = pathlib.Path(f"/proc/{n.proc.pid}/task/{n.proc.pid}/children")
    return [int(x) for x in kids.read_text().split()]


def reload(n):
    """nginx -s reload, and wait until only the new workers answer."""
    old = set(worker_pids(n))
    before = engines_ready(n)
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: engines_ready(n) > before, "the new worker's engine")
    wait_for(lambda: not old & set(worker_pids(n)), "the old workers' exit")


def test_repeat_is_answered_from_the_cache_across_a_restart(ngx):
    start(ngx)
    data = b"%PDF-1.4\n% gatehouse cache " + secrets.token_bytes(16) + PDF
    st, a, rec = upload(ngx, data, "a.pdf")
    assert st == 201 and a["scan"] == "clean", a
    assert "scan_cached" not in rec
    assert cache_entries(ngx) == 1
    st, a, rec = upload(ngx, data, "b.pdf")
    assert st == 201 and a["scan"] == "clean", a
    assert rec["scan_cached"] is True and rec["scan"] == "clean"
    # infected: the second answer is the same, from the cache
    st, a, rec = upload(ngx, EICAR, "e.txt")
    assert st == 422 and a["error"] == "infected", a
    assert "scan_cached" not in rec
    st, a2, rec = upload(ngx, EICAR, "e2.txt")
    assert st == 422 and a2["signature"] == a["signature"], a2
    assert rec["scan_cached"] is True and rec["status"] == "quarantined"
    assert len(ngx.quarantined()) == 2
    # a new nginx, new workers, the same store
    ngx.stop()
    ngx.start()
    wait_for(lambda: engines_ready(ngx) >= 2, "the engine after restart")
    st, a, rec = upload(ngx, data, "c.pdf")
    assert st == 201 and rec["scan_cached"] is True, rec
    assert cache_entries(ngx) == 2


def test_a_new_signature_invalidates_a_cached_clean(ngx):
    db = start(ngx)
    data = b"gatehouse-cache-marker " + secrets.token_hex(16).encode() + b"\n"
    st, a, rec = upload(ngx, data, "m.txt")
    assert st == 201 and a["scan"] == "clean", a
    st, a, rec = upload(ngx, data, "m.txt")
    assert st == 201 and rec.get("scan_cached") is True, rec
    # the database gains a signature for exactly this file
    (db / "extra.ndb").write_text(f"Gatehouse.Test.Marker:0:*:{data.hex()}\n")
    reload(ngx)
    st, a, rec = upload(ngx, data, "m.txt")
    assert st == 422, (st, a)
    assert a["error"] == "infected"
    assert a["signature"] == "Gatehouse.Test.Marker.UNOFFICIAL"
    assert "scan_cached" not in rec


def test_unscannable_is_not_cached(ngx):
    start(ngx)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("r.bin", os.urandom(3 << 20))   # past max_filesize=2m
    big = buf.getvalue()
    for _ in range(2):
        st, a, rec = upload(ngx, big, "big.zip")
        assert st == 422 and a["error"] == "unscannable", a
        assert "scan_cached" not in rec
    assert cache_entries(ngx) == 0


def test_cache_off(ngx):
    start(ngx, "    gatehouse_scan_cache off;\n")
    for _ in range(2):
        st, a, rec = upload(ngx, PDF, "a.pdf")
        assert st == 201 and "scan_cached" not in rec, rec
    assert cache_entries(ngx) == 0


def test_bad_scan_cache_value(ngx):
    ngx.write(http=f"    gatehouse_conf {ngx.ghconf};\n"
                   "    gatehouse_scan_cache maybe;\n")
    p = ngx.test()
    assert p.returncode != 0
    assert "gatehouse_scan_cache" in p.stderr
