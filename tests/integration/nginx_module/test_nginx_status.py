"""`gatehouse_upload_status`: the record of an upload, from the store, for
the user who sent it; anyone else gets the same 404 as for an upload that
does not exist."""
import os
import pathlib
import socket
import subprocess
import time

from ngx_support import WORKER_USER
from gh_http import (PDF, ctype, multipart, part, png_bytes, post,
                     read_response, request_head, sha256)


def get(port, path, user=None, method="GET"):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if user is not None:
        lines.append(f"X-User: {user}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return read_response(s)


def wait_for_record(nginx, name):
    for _ in range(300):
        recs = [x for x in nginx.records() if x["original_name"] == name]
        if recs:
            return recs
        time.sleep(0.05)
    raise AssertionError(f"no record of {name}")


def upload(nginx, content, name, user):
    r = post(nginx.port, "/upload", multipart([part("f", content, name)]),
             extra=[f"X-User: {user}"])
    return r


def test_owner_sees_the_record(nginx):
    png = png_bytes(300)
    a = upload(nginx, png, "mine.png", "alice").json()
    r = get(nginx.port, f"/uploads/status/{a['id']}", "alice")
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    s = r.json()
    assert s["id"] == a["id"]
    assert s["filename"] == "mine.png"
    assert s["original_filename"] == "mine.png"
    assert s["status"] == "stored" and s["reason"] is None
    assert s["scan"] == "not_scanned"
    assert s["size"] == len(png) and s["sha256"] == sha256(png)
    assert s["mime"] == "image/png" and s["category"] == "images"
    assert s["url"] == a["url"]
    # nothing of the server's insides
    assert "stored_name" not in s and "client_addr" not in s
    assert "user" not in s


def test_others_get_404_like_a_missing_upload(nginx):
    a = upload(nginx, png_bytes(), "private.png", "alice").json()
    missing = get(nginx.port, "/uploads/status/987654321", "bob")
    assert missing.status == 404
    for user in ("bob", "", None, "ALICE", "alic"):
        r = get(nginx.port, f"/uploads/status/{a['id']}", user)
        assert r.status == 404, (user, r)
        assert r.body == missing.body
    for bad in ("abc", "0", f"0{a['id']}", "-1", f"{a['id']}x",
                "99999999999999999999"):
        r = get(nginx.port, f"/uploads/status/{bad}", "alice")
        assert r.status == 404, (bad, r)
    assert missing.json()["error"] == "not_found"


def test_refused_upload_shows_why(nginx):
    r = upload(nginx, PDF, "fake.png", "carol")
    assert r.status == 415
    # refusals are recorded by a job of the thread pool, after the answer
    recs = wait_for_record(nginx, "fake.png")
    s = get(nginx.port, f"/uploads/status/{recs[0]['id']}", "carol").json()
    assert s["status"] == "rejected" and s["reason"] == "type_mismatch"


def test_receiving_is_visible(nginx):
    big = png_bytes(200 * 1024)
    full = multipart([part("f", big, "growing.png")])
    head = request_head("/upload", ctype(), len(full),
                        extra=["X-User: erin"])
    with socket.create_connection(("127.0.0.1", nginx.port),
                                  timeout=30) as s:
        s.sendall(head + full[:len(full) // 2])
        recs = wait_for_record(nginx, "growing.png")
        st = get(nginx.port, f"/uploads/status/{recs[0]['id']}", "erin")
        assert st.json()["status"] == "receiving", (st, recs)
        s.sendall(full[len(full) // 2:])
        r = read_response(s)
    assert r.status == 201
    st = get(nginx.port, f"/uploads/status/{recs[0]['id']}", "erin")
    assert st.json()["status"] == "stored"


def test_methods(nginx):
    a = upload(nginx, png_bytes(), "m.png", "alice").json()
    lines = [f"HEAD /uploads/status/{a['id']} HTTP/1.1", "Host: 127.0.0.1",
             "X-User: alice", "Connection: close"]
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert head.endswith(b"\r\n\r\n"), head
    r = post(nginx.port, f"/uploads/status/{a['id']}", b"x",
             extra=["X-User: alice"])
    assert r.status == 405


RECTOOL = (pathlib.Path(__file__).resolve().parents[3] / "build" / "tests" /
           "integration" / "retention" / "rectool")


def test_version_1_records_still_read(nginx):
    """Records written before the original name was kept (v 1: only
    original_name, which held the safe name) read as they did: the status
    location and the CLI show that name, and no original."""
    first = upload(nginx, png_bytes(), "before.png", "carol").json()["id"]
    cmd = [str(RECTOOL), str(nginx.store), "day",
           str(int(time.time() * 1000)), "carol", "0", "0", "3", "0"]
    if os.geteuid() == 0:
        # the store is the worker user's: write it as that user
        cmd = ["runuser", "-u", WORKER_USER, "--"] + cmd
    subprocess.run(cmd, check=True, timeout=30)
    old = first + 3                 # rectool's third record is "stored"
    rec = nginx.record(old)
    assert rec["v"] == 1 and "display_name" not in rec
    r = get(nginx.port, f"/uploads/status/{old}", "carol")
    assert r.status == 200, r
    assert r.json()["filename"] == "report.pdf"
    assert "original_filename" not in r.json()
    out = nginx.gh("uploads", "show", str(old)).stdout
    assert "display_name   report.pdf\n" in out, out
    assert "original_name" not in out
    out = nginx.gh("uploads", "list", "--user", "carol").stdout
    assert "report.pdf" in out and "before.png" in out


def raw_send(port, head):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        return read_response(s)


def test_odd_user_names_are_escaped_and_still_match(nginx):
    """The record keeps the user (and the URI) escaped by libgatehouse's
    one rule (docs/events.md, "Untrusted text"), as the PAM module and the
    milter keep theirs: bytes that are not UTF-8 as \\xhh, not '?'.  The
    owner still sees the status of the upload: its user is compared
    escaped the same way.  A '\\' in a user name (DOMAIN\\user) stays one."""
    for raw, kept in ((b"eve\xff", "eve\\xff"), (b"DOM\\bob", "DOM\\bob")):
        body = multipart([part("f", png_bytes(), "odd-user.png")])
        head = request_head("/upload", ctype(), len(body),
                            extra=["X-User: @U@"]).replace(b"@U@", raw)
        r = raw_send(nginx.port, head + body)
        assert r.status == 201, r
        up = r.json()
        rec = nginx.record(up["id"])
        assert rec["user"] == kept
        mine = raw_send(nginx.port, b"GET /uploads/status/%d HTTP/1.1\r\n"
                        b"Host: 127.0.0.1\r\nX-User: %s\r\n\r\n"
                        % (up["id"], raw))
        assert mine.status == 200, (raw, mine)
        # the escaped form is not a way in: it is another user's name
        other = get(nginx.port, f"/uploads/status/{up['id']}",
                    "eve\\\\xff" if raw == b"eve\xff" else "DOM")
        assert other.status == 404
