"""Upload records in the shared store: every upload the module sees is
recorded (stored or rejected, with the reason), a file still arriving is
"receiving", the CLI shows them, and a store that cannot be opened or whose
write lock is held by a stuck process costs a bounded wait and follows
gatehouse_upload_on_store_error."""
import fcntl
import io
import json
import os
import socket
import time
import zipfile

import pytest

from ngx_support import wait_for  # noqa: F401
from gh_http import (BOUNDARY, PDF, ctype, multipart, part, png_bytes, post,
                     read_response, request_head, sha256)


def zip_bytes(size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("data.bin", os.urandom(size))
    return buf.getvalue()


def newest(nginx):
    recs = nginx.records()
    return recs[0] if recs else None


def test_refused_upload_is_recorded_with_reason(nginx):
    r = post(nginx.port, "/upload", multipart([part("f", PDF, "cv.png")]),
             extra=["X-User: mallory"])
    assert r.status == 415, r
    rec = wait_for(lambda: (newest(nginx) or {}).get("original_name")
                   == "cv.png" and newest(nginx), "the record")
    assert rec["status"] == "rejected"
    assert rec["reason"] == "type_mismatch"
    assert rec["user"] == "mallory"
    assert rec["mime"] == "application/pdf"
    assert rec["stored_name"] is None
    assert nginx.stored() == [] or all(
        "cv" not in s for s in nginx.stored())


def test_a_refused_request_leaves_one_new_record(nginx):
    """Only the file that decided is recorded: the others of the request
    have nothing in the store, and a client cannot make one request leave
    max_files records."""
    body = multipart([part("a", png_bytes(), "first.png"),
                      part("b", PDF, "second.png")])
    r = post(nginx.port, "/upload", body)
    assert r.status == 415, r
    rec = wait_for(lambda: (newest(nginx) or {}).get("original_name")
                   == "second.png" and newest(nginx), "the record")
    assert rec["reason"] == "type_mismatch" and rec["status"] == "rejected"
    time.sleep(0.3)
    assert not [x for x in nginx.records()
                if x["original_name"] == "first.png"]


def test_a_file_already_recorded_is_updated_when_another_is_refused(nginx):
    """A file that has a "receiving" record gets its final state when a
    later file of the request is refused: no record is left "receiving"."""
    b = BOUNDARY.encode()
    first = (b"--" + b + b"\r\n" +
             part("a", png_bytes(200 * 1024), "early.png") + b"\r\n")
    rest = (b"--" + b + b"\r\n" + part("b", PDF, "late.png") + b"\r\n--" +
            b + b"--\r\n")
    head = request_head("/upload", ctype(), len(first) + len(rest))
    with socket.create_connection(("127.0.0.1", nginx.port),
                                  timeout=30) as s:
        s.sendall(head + first[:len(first) // 2])
        rec = wait_for(lambda: (newest(nginx) or {}).get("original_name")
                       == "early.png" and newest(nginx), "receiving record")
        assert rec["status"] == "receiving"
        s.sendall(first[len(first) // 2:] + rest)
        r = read_response(s)
    assert r.status == 415, r
    wait_for(lambda: nginx.record(rec["id"])["status"] == "rejected",
             "early.png rejected")
    assert nginx.record(rec["id"])["reason"] == "other_file_refused"
    late = wait_for(lambda: [x for x in nginx.records()
                             if x["original_name"] == "late.png"],
                    "late.png's record")
    assert late[0]["reason"] == "type_mismatch"


def test_receiving_then_stored_under_one_id(nginx):
    """A file still arriving has a "receiving" record; when the body is
    complete the same record becomes "stored"."""
    content = zip_bytes(600 * 1024)
    full = multipart([part("file", content, "slow.zip")])
    head = request_head("/upload/unlimited", ctype(), len(full),
                        extra=["X-User: carol"])
    cut = len(full) // 2
    with socket.create_connection(("127.0.0.1", nginx.port),
                                  timeout=30) as s:
        s.sendall(head + full[:cut])
        rec = wait_for(lambda: (newest(nginx) or {}).get("original_name")
                       == "slow.zip" and newest(nginx), "receiving record")
        assert rec["status"] == "receiving"
        s.sendall(full[cut:])
        r = read_response(s)
    assert r.status == 201, r
    a = r.json()
    assert a["id"] == rec["id"]
    final = nginx.record(rec["id"])
    assert final["status"] == "stored"
    assert final["sha256"] == sha256(content)
    assert final["size"] == len(content)
    assert final["created_at"] == rec["created_at"]
    assert final["updated_at"] >= rec["updated_at"]


def last_txn(nginx):
    return json.loads(nginx.gh("--json", "store", "info").stdout)["last_txn"]


def test_one_commit_per_quick_upload(nginx):
    """An upload that is over within a second is written once (its final
    record, from the thread pool): no "receiving" write, so no commit and
    no fsync on the event loop -- even though nginx reads the start of the
    body together with the headers, so the file is "still arriving" at the
    end of that first read.  A slower one gets its "receiving" record."""
    post(nginx.port, "/upload", multipart([part("f", png_bytes(), "w.png")]))
    before = last_txn(nginx)
    for i in range(3):
        r = post(nginx.port, "/upload",
                 multipart([part("f", png_bytes(50 * 1024), f"q{i}.png")]))
        assert r.status == 201, r
    assert last_txn(nginx) - before == 3

    full = multipart([part("f", png_bytes(100 * 1024), "slow.png")])
    head = request_head("/upload", ctype(), len(full))
    before = last_txn(nginx)
    with socket.create_connection(("127.0.0.1", nginx.port),
                                  timeout=30) as s:
        s.sendall(head + full[:len(full) // 2])
        time.sleep(1.5)
        s.sendall(full[len(full) // 2:])
        r = read_response(s)
    assert r.status == 201, r
    assert last_txn(nginx) - before == 2      # receiving, then stored


def test_disconnect_records_aborted(nginx):
    b = BOUNDARY.encode()
    first = b"--" + b + b"\r\n" + part("f", png_bytes(100 * 1024), "gone.png")
    head = request_head("/upload", ctype(), 10 * 1024 * 1024)
    s = socket.create_connection(("127.0.0.1", nginx.port), timeout=20)
    s.sendall(head + first)
    wait_for(lambda: (newest(nginx) or {}).get("original_name")
             == "gone.png", "receiving record")
    s.close()
    rec = wait_for(lambda: newest(nginx)["status"] == "rejected"
                   and newest(nginx), "the aborted record")
    assert rec["original_name"] == "gone.png"
    assert rec["reason"] == "aborted"
    wait_for(lambda: nginx.incoming() == [], "the temp file to go")


def test_cli_lists_and_shows(nginx):
    r = post(nginx.port, "/upload",
             multipart([part("f", png_bytes(), "listed.png")]),
             extra=["X-User: dave"])
    assert r.status == 201, r
    uid = r.json()["id"]
    out = nginx.gh("uploads", "list", "--user", "dave").stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED", "STATUS", "SCAN"]
    assert any(line.split()[0] == str(uid) and "listed.png" in line
               and "stored" in line for line in lines[1:]), out
    out = nginx.gh("uploads", "show", str(uid)).stdout
    assert "status         stored" in out
    assert "original_name  listed.png" in out
    p = nginx.gh("uploads", "show", "999999", check=False)
    assert p.returncode == 1 and "no upload 999999" in p.stderr
    only_rejected = nginx.gh("--json", "uploads", "list", "--status",
                             "rejected", "--limit", "0").stdout
    assert '"stored"' not in only_rejected


def test_no_store_configured_still_works(nginx_conf):
    n = nginx_conf
    n.write(server=f"""\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
""")
    n.start()
    r = post(n.port, "/upload", multipart([part("f", png_bytes(), "a.png")]))
    assert r.status == 201, r
    assert r.json()["id"] is None
    assert r.json()["status"] == "stored"


def test_store_that_cannot_be_opened(nginx_conf):
    """The worker cannot create the store (its parent is root's): that is
    logged once, and each location follows its on_store_error."""
    n = nginx_conf
    if not n.root:
        pytest.skip("needs root to make a directory the worker cannot use")
    ro = n.prefix / "ro"
    ro.mkdir(mode=0o755)
    n.write(http=f"    gatehouse_store {ro}/store;\n", server=f"""\
        location = /reject {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
        location = /accept {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_on_store_error accept;
        }}
""")
    n.start()
    for _ in range(2):
        r = post(n.port, "/reject",
                 multipart([part("f", png_bytes(), "a.png")]))
        assert r.status == 503, r
        assert r.json()["error"] == "store_unavailable"
    assert n.stored() == []
    r = post(n.port, "/accept", multipart([part("f", png_bytes(), "a.png")]))
    assert r.status == 201, r
    assert r.json()["id"] is None
    assert len(n.stored()) == 1
    log = n.error_log()
    assert log.count("cannot open the store") == 1, log


def test_stuck_writer_holding_the_lock(nginx):
    """Another process holds the store's write lock and never lets go:
    the upload waits at most [nginx] lock_timeout (100 ms), is refused
    with 503 (on_store_error reject) and nothing is kept; once the lock
    is free, uploads are recorded again."""
    before = nginx.stored()
    with open(nginx.store / "wlock", "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        r = post(nginx.port, "/upload",
                 multipart([part("f", png_bytes(), "locked.png")]))
    assert r.status == 503, r
    assert r.json()["error"] == "store_unavailable"
    assert nginx.stored() == before
    assert ("store: recording upload(s) after the scan failed: store "
            "write lock not acquired in time") in nginx.error_log()
    r = post(nginx.port, "/upload",
             multipart([part("f", png_bytes(), "unlocked.png")]))
    assert r.status == 201, r
    assert nginx.record(r.json()["id"])["status"] == "stored"


# ---- the event loop never waits for the store's write lock -----------------

LOCK_SERVER = """\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 0;
        }}
        location = /unsubscribe {{
            gatehouse_unsubscribe;
        }}
        location /static/ {{
            root {prefix}/html;
        }}
"""


def locked_site(n):
    """Start n with LOCK_SERVER, its pool threads waiting up to 10 s for
    the store's write lock."""
    key = n.prefix / "conf" / "token.key"
    # [store] lock_timeout: how long the pool threads wait for the tests.
    # [nginx] lock_timeout is accepted and unused: were it how long the
    # event loop itself waited for the lock, requests would stall here.
    n.write_ghconf(f"lock_timeout = 10s\n[tokens]\nkey_file = {key}\n"
                   "[nginx]\nlock_timeout = 10s\n")
    n.gh("tokens", "keygen")
    (n.prefix / "html" / "static").mkdir(parents=True)
    (n.prefix / "html" / "static" / "hello.txt").write_text("hello\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=LOCK_SERVER.format(uploads=n.uploads, prefix=n.prefix))
    n.start()
    # the worker has opened (and made) the store before the lock is taken
    r = post(n.port, "/upload", multipart([part("f", png_bytes(), "a.png")]))
    assert r.status == 201, r
    return n


def test_event_loop_serves_while_another_process_holds_the_lock(nginx_conf):
    """Another process holds the store's write lock while an unsubscribe
    POST and a slow upload (whose "receiving" record is due) are in
    flight on the only worker: a GET of a static file is answered while
    the lock is still held, since those writes wait in the thread pool and
    not in the event loop.  Once the lock is free both complete: the
    upload's "receiving" record and its final one are the same record."""
    n = locked_site(nginx_conf)
    t = n.gh("tokens", "make", "unsubscribe", "held@example.org",
             "news").stdout.strip()
    unsub = (f"POST /unsubscribe?t={t} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\n"
             "Content-Length: 26\r\nConnection: close\r\n\r\n"
             "List-Unsubscribe=One-Click").encode()
    full = multipart([part("f", png_bytes(600 * 1024), "held.png")])
    head = request_head("/upload", ctype(), len(full))
    got = None
    with open(n.store / "wlock", "r+b") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            up = socket.create_connection(("127.0.0.1", n.port), timeout=30)
            up.sendall(head + full[:len(full) // 2])
            un = socket.create_connection(("127.0.0.1", n.port), timeout=30)
            un.sendall(unsub)
            # the "receiving" timer fires a second after the first read
            time.sleep(1.5)
            up.sendall(full[len(full) // 2:])
            try:
                with socket.create_connection(("127.0.0.1", n.port),
                                              timeout=5) as g:
                    g.sendall(b"GET /static/hello.txt HTTP/1.1\r\n"
                              b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    got = read_response(g)
            except (socket.timeout, ConnectionError):
                pass
            # neither write could be made while the lock is held
            for s in (up, un):
                s.setblocking(False)
                with pytest.raises(BlockingIOError):
                    s.recv(1)
                s.setblocking(True)
                s.settimeout(30)
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)
    assert got is not None, "the GET waited for the store's write lock"
    assert got.status == 200 and got.body == b"hello\n", got

    with un:
        r = read_response(un)
    assert r.status == 200, r
    assert n.gh("suppress", "check", "held@example.org", "--list", "news",
                check=False).returncode == 0
    with up:
        r = read_response(up)
    assert r.status == 201, r
    recs = [x for x in n.records() if x["original_name"] == "held.png"]
    assert len(recs) == 1, recs
    assert recs[0]["id"] == r.json()["id"]
    assert recs[0]["status"] == "stored"


def test_abandoned_while_its_receiving_record_waits(nginx_conf):
    """The client goes away while the "receiving" record of its file is
    still waiting for the lock in the thread pool: the "aborted" record
    waits for it and goes under the same id (one record, not two)."""
    n = locked_site(nginx_conf)
    b = BOUNDARY.encode()
    first = b"--" + b + b"\r\n" + part("f", png_bytes(100 * 1024), "left.png")
    with open(n.store / "wlock", "r+b") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            s = socket.create_connection(("127.0.0.1", n.port), timeout=20)
            s.sendall(request_head("/upload", ctype(), 10 * 1024 * 1024)
                      + first)
            # the "receiving" timer fires a second after the first read
            time.sleep(1.5)
            s.close()
            wait_for(lambda: n.incoming() == [], "the temp file to go")
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)
    rec = wait_for(lambda: [x for x in n.records()
                            if x["original_name"] == "left.png"
                            and x["status"] == "rejected"], "the record")
    time.sleep(0.3)
    recs = [x for x in n.records() if x["original_name"] == "left.png"]
    assert recs == rec and len(recs) == 1, recs
    assert recs[0]["reason"] == "aborted"


# ---- records of uploads not kept are capped per client address -------------

CAP_SERVER = """\
        location /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_user $http_x_user;
        }}
"""


def post_from(n, src, body, path="/upload", extra=()):
    """post() from source address src (any 127.0.0.0/8 address)."""
    head = request_head(path, ctype(), len(body), extra=extra)
    with socket.create_connection(("127.0.0.1", n.port), timeout=30,
                                  source_address=(src, 0)) as s:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(s)


def named(n, prefix):
    return [x for x in n.records() if x["original_name"].startswith(prefix)]


def settled(n, prefix, count):
    """The records named prefix* once count are there and a moment has
    passed for any more to land."""
    wait_for(lambda: len(named(n, prefix)) >= count, f"{count} {prefix}*")
    time.sleep(0.5)
    return named(n, prefix)


def test_refused_and_aborted_records_are_capped_per_address(nginx_conf):
    """N refused uploads from one address leave at most the cap's records,
    aborted ones (the client closes mid-body) too; past the cap for all
    addresses nobody's are recorded; a stored upload always is.  Reaching
    a cap is logged once."""
    n = nginx_conf
    n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                 "    gatehouse_upload_refused_records 3 window=1h "
                 "total=8;\n",
            server=CAP_SERVER.format(uploads=n.uploads))
    n.start()

    for i in range(8):
        r = post_from(n, "127.0.0.2", multipart([part("f", PDF,
                                                      f"ref{i}.png")]))
        assert r.status == 415, r
    recs = settled(n, "ref", 3)
    assert len(recs) == 3, recs
    assert all(x["status"] == "rejected" for x in recs)

    b = BOUNDARY.encode()
    for i in range(6):
        first = b"--" + b + b"\r\n" + part("f", png_bytes(100 * 1024),
                                           f"gone{i}.png")
        s = socket.create_connection(("127.0.0.1", n.port), timeout=20,
                                     source_address=("127.0.0.3", 0))
        s.sendall(request_head("/upload", ctype(), 10 * 1024 * 1024) + first)
        wait_for(lambda: len(n.incoming()) == 1, "the temp file")
        s.close()
        wait_for(lambda: n.incoming() == [], "the temp file to go")
    recs = settled(n, "gone", 3)
    assert len(recs) == 3, recs
    assert all(x["reason"] == "aborted" for x in recs)

    # 6 of the 8 for everyone are used: another address gets 2
    for i in range(4):
        r = post_from(n, "127.0.0.4", multipart([part("f", PDF,
                                                      f"other{i}.png")]))
        assert r.status == 415, r
    assert len(settled(n, "other", 2)) == 2

    # a stored upload is recorded whatever the caps
    r = post_from(n, "127.0.0.2", multipart([part("f", png_bytes(),
                                                  "kept.png")]))
    assert r.status == 201, r
    assert n.record(r.json()["id"])["status"] == "stored"

    log = n.error_log()
    assert log.count("gatehouse: client 127.0.0.2 reached 3 records") == 1, \
        log
    assert log.count("gatehouse: client 127.0.0.3 reached 3 records") == 1
    assert log.count("from all clients") == 1, log


def test_record_of_a_refused_upload_is_small(nginx_conf):
    """Whatever the client sends, the record of a refused upload keeps
    little of it: a user name that would have to be cut is not kept at
    all (cut short it could name another user)."""
    n = nginx_conf
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=CAP_SERVER.format(uploads=n.uploads))
    n.start()
    name = "é" * 120 + ".png"
    body = multipart([part("x" * 2000, PDF, name)])
    r = post_from(n, "127.0.0.5", body, path="/upload/" + "u" * 3000,
                  extra=["X-User: " + "m" * 300])
    assert r.status == 415, r
    rec = wait_for(lambda: named(n, "é"), "the record")[0]
    assert rec["reason"] == "type_mismatch"
    assert len(rec["original_name"].encode()) <= 128
    assert len(rec["display_name"].encode()) <= 128
    assert rec["display_name"] == "é" * 64
    # the original is cut between escapes, and says so
    assert rec["original_name"] == "é" * 62 + "\\..."
    assert len(rec["field"]) <= 64 and len(rec["uri"]) <= 128
    assert rec["user"] is None
    # a kept upload's record keeps them whole
    body = multipart([part("y" * 100, png_bytes(), name)])
    r = post_from(n, "127.0.0.5", body, extra=["X-User: " + "k" * 300])
    assert r.status == 201, r
    rec = n.record(r.json()["id"])
    assert rec["original_name"] == name and rec["user"] == "k" * 300
    assert rec["display_name"] == name
