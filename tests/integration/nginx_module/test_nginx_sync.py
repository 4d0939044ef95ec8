"""gatehouse_upload_sync: a 201 means the bytes survive a power loss.

nginx runs under strace (-f, every thread; -y, descriptors with their
paths) for real uploads, and the trace's order is the proof: the file's
data is synced (fdatasync of the temp file), it is renamed into place, its
day directory is synced (fsync), and, the first time, every directory made
above it too -- all before the record's commit reaches data.mdb and before
"HTTP/1.1 201" is written to the client.  The same for a quarantined
file.  With sync off, none of these syncs happen (so the proof can fail).
Failures are injected with strace's own fault injection (-e inject): an
fdatasync that says EIO or ENOSPC, an fsync of the directory that says
EIO; each upload is refused cleanly, its file removed, no "stored" record
written.  gatehouse_upload_sync parses on/off and nothing else.
"""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from ngx_support import NGINX, EICAR, make_clamav_db, wait_for
from gh_http import multipart, part, png_bytes, post, PDF

SERVER = """\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_user $http_x_user;
        }}
        location = /upload/nosync {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_sync off;
        }}
"""

TRACED = ("fdatasync,fsync,sync_file_range,syncfs,rename,renameat,"
          "renameat2,write,writev,pwrite64,pwritev,msync")

LINE = re.compile(r"^(\d+)\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")


def parse(trace):
    """The trace's calls: dicts of name, args (the text), start and end
    (line numbers where the call entered and returned), result."""
    calls, pending = [], {}
    for i, raw in enumerate(trace.splitlines()):
        m = LINE.match(raw)
        if not m:
            continue
        tid, rest = m.groups()
        if rest.startswith("+++") or rest.startswith("---"):
            continue
        r = RESUMED.match(rest)
        if r:
            c = pending.pop(tid, None)
            if c is None:
                continue
            c["args"] += r.group(2)
            c["end"] = i
            c["result"] = rest.rsplit("=", 1)[-1].strip()
            continue
        m = CALL.match(rest)
        if not m:
            continue
        c = {"tid": tid, "name": m.group(1), "args": m.group(2), "start": i,
             "end": i, "result": rest.rsplit("=", 1)[-1].strip()}
        if rest.endswith("<unfinished ...>"):
            c["result"] = None
            pending[tid] = c
        calls.append(c)
    return calls


def fd_path(c):
    """The path strace -y printed for a call's first argument."""
    m = re.match(r"\d+<([^>]*)>", c["args"])
    return m.group(1) if m else None


class Traced:
    """nginx (master and worker) under strace; stopped through its pid
    file so strace sees every process out."""

    def __init__(self, n, inject=()):
        self.n = n
        self.out = n.prefix / "logs" / "strace.out"
        args = ["strace", "-f", "-y", "-qq", "-s", "48", "-o",
                str(self.out), "-e", f"trace={TRACED}"]
        for spec in inject:
            args += ["-e", f"inject={spec}"]
        n.started = True
        self.proc = subprocess.Popen(args + [NGINX, "-p", str(n.prefix),
                                             "-c", str(n.conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        pid = n.prefix / "logs" / "nginx.pid"
        wait_for(lambda: pid.exists() and pid.read_text().strip(),
                 "nginx under strace to start")
        wait_for(lambda: self.listening(), "nginx to listen")

    def listening(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.n.port),
                                          timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        pid = int((self.n.prefix / "logs" / "nginx.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.out.read_text(errors="replace")


def start(n, ghsync="no", inject=()):
    n.ghconf.write_text(f"[store]\npath = {n.store}\nsync = {ghsync}\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=n.uploads))
    return Traced(n, inject)


def upload(n, path="/upload", content=None, name="photo.png"):
    content = content if content is not None else png_bytes(3000)
    return post(n.port, path, multipart([part("f", content, name)]),
                extra=("X-User: alice",))


def first(calls, what, pred, after=-1):
    for c in calls:
        if c["start"] > after and pred(c):
            return c
    raise AssertionError(f"no {what} in the trace")


def record_writes(calls, store, after):
    data = str(store / "data.mdb")
    return [c for c in calls if c["start"] > after and fd_path(c) == data
            and c["name"] in ("write", "pwrite64", "pwritev", "writev",
                              "fdatasync", "fsync", "msync")]


def answer(calls, status):
    return first(calls, f"the {status} answer",
                 lambda c: c["name"] in ("write", "writev")
                 and f"HTTP/1.1 {status}" in c["args"])


def test_directive_parses(nginx_conf):
    n = nginx_conf
    for value in ("on", "off"):
        n.write(server=f"""\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_sync {value};
        }}""", http=f"    gatehouse_upload_sync {value};\n")
        p = n.test()
        assert p.returncode == 0, p.stderr
    n.write(server=f"""\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_sync always;
        }}""")
    p = n.test()
    assert p.returncode != 0
    assert "gatehouse_upload_sync" in p.stderr and "on" in p.stderr, p.stderr


def test_on_and_off_both_store(nginx_conf):
    n = nginx_conf
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=n.uploads))
    n.start()
    body = png_bytes(5000)
    ids = []
    for path in ("/upload", "/upload/nosync"):
        r = upload(n, path, body)
        assert r.status == 201, r
        a = r.json()
        assert a["status"] == "stored"
        ids.append(a["id"])
        rec = n.record(a["id"])
        assert rec["status"] == "stored"
        with open(rec["stored_name"], "rb") as f:
            assert f.read() == body
    assert len(n.stored()) == 2 and ids[0] != ids[1]


def test_synced_before_the_record_and_the_201(nginx_conf):
    n = nginx_conf
    t = start(n, ghsync="yes")
    try:
        r = upload(n)
        assert r.status == 201, r
        stored = r.json()["id"]
    finally:
        trace = t.stop()
    calls = parse(trace)
    incoming = str(n.uploads / ".incoming") + "/"

    data = first(calls, "fdatasync of the temp file",
                 lambda c: c["name"] == "fdatasync"
                 and (fd_path(c) or "").startswith(incoming))
    assert data["result"] == "0"
    # the first try finds no day directory (ENOENT): the one that counts
    mv = first(calls, "the rename into place",
               lambda c: c["name"].startswith("rename")
               and incoming in c["args"] and c["result"] == "0",
               after=data["end"])
    dest = re.findall(r'"([^"]*)"', mv["args"])[-1]
    day = os.path.dirname(dest)
    assert day.startswith(str(n.uploads / "images") + "/")
    dsync = first(calls, "fsync of the day directory",
                  lambda c: c["name"] == "fsync" and fd_path(c) == day,
                  after=mv["end"])
    done = dsync["end"]

    # the day's directories were made by this upload: each parent synced,
    # before the rename (a name in a directory that may vanish is no name)
    for d in (n.uploads, n.uploads / "images", os.path.dirname(day),
              os.path.dirname(os.path.dirname(day))):
        c = first(calls, f"fsync of {d}",
                  lambda c, d=str(d): c["name"] == "fsync"
                  and fd_path(c) == d)
        assert c["end"] < mv["start"], (d, c)

    rec = record_writes(calls, n.store, after=mv["end"])
    assert rec, "no write to data.mdb after the rename"
    assert done < rec[0]["start"], (dsync, rec[0])
    assert done < answer(calls, 201)["start"]
    # the store's own sync ([store] sync = yes) comes before the answer too
    assert any(c["name"] in ("fdatasync", "fsync", "msync") for c in rec)

    assert n.record(stored)["status"] == "stored"


def test_no_sync_when_off(nginx_conf):
    n = nginx_conf
    t = start(n)
    try:
        r = upload(n, "/upload/nosync")
        assert r.status == 201, r
    finally:
        trace = t.stop()
    calls = parse(trace)
    up = str(n.uploads)
    assert not [c for c in calls if c["name"] in ("fdatasync", "fsync")
                and (fd_path(c) or "").startswith(up)]
    # the control: the trace did see the rename and the answer
    first(calls, "rename", lambda c: c["name"].startswith("rename"))
    answer(calls, 201)


@pytest.mark.parametrize("err,status,code", [
    ("EIO", 500, "store_failed"),
    ("ENOSPC", 507, "insufficient_storage"),
])
def test_failed_data_sync_refuses(nginx_conf, err, status, code):
    n = nginx_conf
    n.log_allow = ("fdatasync of", "is full: uploads are refused",
                   "has space again")
    t = start(n, inject=(f"fdatasync:error={err}",))
    try:
        r = upload(n, name="lost.png")
        assert r.status == status, r
        assert r.json()["error"] == code
        # the next one, under the same fault, the same: nothing kept
        r = upload(n, name="lost2.png")
        assert r.status == status, r
    finally:
        t.stop()
    assert n.stored() == [] and n.incoming() == []
    recs = [x for x in n.records() if x["display_name"] == "lost.png"]
    assert recs and all(x["status"] == "rejected" for x in recs), recs
    assert recs[0]["reason"] == code
    if err == "EIO":
        assert "fdatasync of" in n.error_log()


def test_failed_directory_sync_removes_the_file(nginx_conf):
    n = nginx_conf
    n.log_allow = ("fsync of",)
    t = start(n, inject=("fsync:error=EIO",))
    try:
        r = upload(n, name="gone.png")
        assert r.status == 500, r
        assert r.json()["error"] == "store_failed"
    finally:
        t.stop()
    assert n.stored() == [] and n.incoming() == []
    recs = [x for x in n.records() if x["display_name"] == "gone.png"]
    assert recs and recs[0]["status"] == "rejected", recs
    assert "fsync of" in n.error_log()


def test_quarantined_file_is_synced_first(nginx_conf):
    n = nginx_conf
    db = make_clamav_db(n.prefix / "clamav")
    n.ghconf.write_text(f"[store]\npath = {n.store}\nsync = yes\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                 f"    gatehouse_clamav_db {db};\n",
            server=f"""\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_category notes txt mime=text/plain;
        }}""")
    t = Traced(n)
    try:
        r = post(n.port, "/scan", multipart([part("f", EICAR, "bad.txt")]))
        assert r.status == 422, r
        qid = r.json()["id"]
    finally:
        trace = t.stop()
    calls = parse(trace)
    incoming = str(n.uploads / ".incoming") + "/"
    qdir = str(n.uploads / ".quarantine")
    data = first(calls, "fdatasync of the infected file",
                 lambda c: c["name"] == "fdatasync"
                 and (fd_path(c) or "").startswith(incoming))
    mv = first(calls, "the rename to the quarantine",
               lambda c: c["name"].startswith("rename")
               and qdir + "/" in c["args"] and c["result"] == "0",
               after=data["end"])
    dsync = first(calls, "fsync of the quarantine",
                  lambda c: c["name"] == "fsync" and fd_path(c) == qdir,
                  after=mv["end"])
    rec = record_writes(calls, n.store, after=mv["end"])
    assert rec and dsync["end"] < rec[0]["start"]
    assert dsync["end"] < answer(calls, 422)["start"]
    rec = n.record(qid)
    assert rec["status"] == "quarantined"
    assert os.path.exists(rec["stored_name"])


def test_upload_dir_behind_a_symlink(nginx_conf):
    """DIR and the quarantine may be symbolic links (the admin's choice):
    syncing them follows the link, so a new day's directory still works."""
    n = nginx_conf
    link = n.prefix / "uploads-link"
    link.symlink_to(n.uploads)
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=link))
    n.start()
    r = upload(n)
    assert r.status == 201, r
    assert len(n.stored()) == 1


def test_failed_quarantine_sync_keeps_nothing(nginx_conf):
    """An infected file whose sync fails is refused as infected all the
    same, but never recorded as quarantined: there is no file to name."""
    n = nginx_conf
    n.log_allow = ("fdatasync of",)
    db = make_clamav_db(n.prefix / "clamav")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                 f"    gatehouse_clamav_db {db};\n",
            server=f"""\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_category notes txt mime=text/plain;
        }}""")
    t = Traced(n, inject=("fdatasync:error=EIO",))
    try:
        r = post(n.port, "/scan", multipart([part("f", EICAR, "bad.txt")]))
        assert r.status == 422, r
        assert r.json()["error"] == "infected"
    finally:
        t.stop()
    assert n.quarantined() == [] and n.incoming() == []
    recs = [x for x in n.records() if x["display_name"] == "bad.txt"]
    assert recs and all(x["status"] != "quarantined" for x in recs), recs
    log = n.error_log()
    assert "fdatasync of" in log and "removed (not quarantined)" in log


def test_writeback_starts_from_the_pool_while_the_body_arrives(nginx_conf):
    """Every 256 KiB written, sync_file_range(SYNC_FILE_RANGE_WRITE) of
    the temp file, from a pool thread (not the event loop, which writes
    the answer), before the fdatasync; with sync off, none."""
    n = nginx_conf
    n.ghconf.write_text(f"[store]\npath = {n.store}\nsync = no\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=n.uploads))
    t = Traced(n)
    big = png_bytes(900 * 1024)
    try:
        r = upload(n, content=big)
        assert r.status == 201, r
        r = upload(n, "/upload/nosync", content=big, name="off.png")
        assert r.status == 201, r
    finally:
        trace = t.stop()
    calls = parse(trace)
    incoming = str(n.uploads / ".incoming") + "/"
    ok = answer(calls, 201)
    wb = [c for c in calls if c["name"] == "sync_file_range"
          and (fd_path(c) or "").startswith(incoming)
          and c["start"] < ok["start"]]
    assert len(wb) >= 3, wb                 # 900 KiB: at 256, 512, 768
    assert all("SYNC_FILE_RANGE_WRITE" in c["args"] for c in wb)
    assert all(c["tid"] != ok["tid"] for c in wb), (wb, ok)
    data = first(calls, "the fdatasync",
                 lambda c: c["name"] == "fdatasync"
                 and (fd_path(c) or "").startswith(incoming))
    assert wb[0]["end"] < data["start"]
    # the second upload (sync off) asked for none
    later = [c for c in calls if c["name"] == "sync_file_range"
             and c["start"] > ok["end"]]
    assert later == [], later
