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


def test_all_files_of_a_refused_request_are_recorded(nginx):
    body = multipart([part("a", png_bytes(), "first.png"),
                      part("b", PDF, "second.png")])
    r = post(nginx.port, "/upload", body)
    assert r.status == 415, r

    def both():
        recs = nginx.records()[:2]
        names = {x["original_name"]: x for x in recs}
        return names if set(names) == {"first.png", "second.png"} else None
    names = wait_for(both, "both records")
    assert names["second.png"]["reason"] == "type_mismatch"
    assert names["first.png"]["reason"] == "other_file_refused"
    assert all(x["status"] == "rejected" for x in names.values())


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
