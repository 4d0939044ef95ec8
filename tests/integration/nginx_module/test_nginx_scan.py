"""Virus scanning with libclamav in nginx's thread pool, against a tiny
signature database made at test time (EICAR, and a hash signature of
clamav-testfiles' clam.exe): infected uploads are quarantined (0600, never
stored) with a 422 naming the signature, a record and an upload.infected
event in the same transaction; archives are scanned inside; a file beyond
libclamav's limits or encrypted is never called clean; a scanner that
cannot work follows gatehouse_upload_on_scan_error."""
import concurrent.futures
import io
import json
import os
import pathlib
import socket
import stat
import subprocess
import threading
import time
import zipfile

import pytest

from ngx_support import EICAR, TESTFILES, Nginx, check_log, make_clamav_db
from gh_http import (PDF, ctype, curl_h2, multipart, part, png_bytes, post,
                     request_head, sha256)

SCAN_HTTP = """\
    gatehouse_conf {ghconf};
    gatehouse_clamav_db {db};
    gatehouse_clamav_limits max_filesize=2m max_recursion=8;
"""

CATEGORIES = """\
            gatehouse_upload_category images png jpg;
            gatehouse_upload_category documents pdf doc ppt;
            gatehouse_upload_category archives zip 7z;
            gatehouse_upload_category notes txt mime=text/plain;
"""

SCAN_SERVER = """\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 8m;
            gatehouse_upload_user $http_x_user;
{categories}
        }}
        location = /scan/lenient {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 8m;
            gatehouse_upload_on_scan_limit accept;
{categories}
        }}
        location = /noscan {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_scan off;
{categories}
        }}
"""


@pytest.fixture(scope="module")
def scan():
    n = Nginx()
    db = make_clamav_db(n.prefix / "clamav")
    n.write(http=SCAN_HTTP.format(ghconf=n.ghconf, db=db),
            server=SCAN_SERVER.format(uploads=n.uploads,
                                      categories=CATEGORIES))
    try:
        n.start()
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    check_log(log)


@pytest.fixture(autouse=True)
def no_temp_files_left(request):
    yield
    if "scan" in request.fixturenames:
        assert request.getfixturevalue("scan").incoming() == []


def zip_of(files, compress=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def nested_zip(data, depth):
    for i in range(depth):
        data = zip_of({"inner.zip" if i else "readme.txt": data})
    return data


def events(n):
    return json.loads(n.gh("--json", "events", "list").stdout)


def test_engine_compiled_once_in_master(scan):
    # before the workers fork (test_nginx_engine.py: shared by several)
    log = scan.error_log()
    assert log.count("clamav engine compiled in master: 2 signatures") == 1, \
        log


def test_clean_file_is_scanned_and_stored(scan):
    r = post(scan.port, "/scan", multipart([part("f", PDF, "clean.pdf")]),
             extra=["X-User: alice"])
    assert r.status == 201, r
    a = r.json()
    assert a["scan"] == "clean" and a["status"] == "stored"
    rec = scan.record(a["id"])
    assert rec["scan"] == "clean" and rec["status"] == "stored"
    assert (scan.uploads / a["url"].lstrip("/")).read_bytes() == PDF


def test_eicar_is_quarantined(scan):
    before = set(scan.stored())
    r = post(scan.port, "/scan", multipart([part("f", EICAR, "eicar.txt")]),
             extra=["X-User: bob"])
    assert r.status == 422, r
    a = r.json()
    assert a["error"] == "infected"
    assert a["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
    assert a["filename"] == "eicar.txt"
    assert set(scan.stored()) == before
    rec = scan.record(a["id"])
    assert rec["status"] == "quarantined" and rec["reason"] == "infected"
    assert rec["scan"] == "infected"
    assert rec["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
    q = rec["stored_name"]
    assert q.startswith(str(scan.uploads / ".quarantine") + "/")
    st = os.stat(q)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert open(q, "rb").read() == EICAR
    # notifyd hears of it: the event was written with the record
    ev = [e for e in events(scan) if e["type"] == "upload.infected"
          and e["metadata"]["upload_id"] == a["id"]]
    assert len(ev) == 1, events(scan)
    ev = ev[0]
    assert ev["user"] == "bob" and ev["category"] == "security"
    assert ev["source"] == "nginx" and ev["priority"] == 3
    assert ev["metadata"]["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
    assert ev["metadata"]["sha256"] == sha256(EICAR)
    assert "eicar.txt" in ev["title"]


def test_anonymous_infected_upload_goes_to_admins(scan):
    r = post(scan.port, "/scan", multipart([part("f", EICAR, "anon.txt")]))
    assert r.status == 422, r
    ev = [e for e in events(scan) if e["type"] == "upload.infected"
          and e["metadata"]["upload_id"] == r.json()["id"]]
    assert ev and "user" not in ev[0] and ev[0]["recipients"] == ["admins"]


def test_eicar_inside_zip(scan):
    z = zip_of({"docs/readme.txt": b"hello\n", "docs/eicar.com": EICAR})
    r = post(scan.port, "/scan", multipart([part("f", z, "bundle.zip")]))
    assert r.status == 422, r
    assert r.json()["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"


@pytest.mark.parametrize("name", ["clam.zip", "clam.7z", "clam.pdf",
                                  "clam.ole.doc", "clam.ppt",
                                  "clam.impl.zip", "clam.bz2.zip"])
def test_clamav_testfiles(scan, name):
    """Debian's clamav-testfiles: clam.exe inside archives and documents,
    found by its hash once unpacked."""
    data = (TESTFILES / name).read_bytes()
    r = post(scan.port, "/scan", multipart([part("f", data, name)]))
    assert r.status == 422, r
    assert r.json()["signature"] == \
        "Gatehouse.Test.ClamAV-Test-File.UNOFFICIAL"


def test_one_infected_file_refuses_the_request(scan):
    before = set(scan.stored())
    body = multipart([part("a", PDF, "fine.pdf"),
                      part("b", EICAR, "bad.txt")])
    r = post(scan.port, "/scan", body)
    assert r.status == 422, r
    files = {f["filename"]: f for f in r.json()["files"]}
    assert files["fine.pdf"]["status"] == "rejected"
    assert files["fine.pdf"]["reason"] == "other_file_refused"
    assert files["bad.txt"]["status"] == "quarantined"
    assert set(scan.stored()) == before
    # a refused request leaves at most one new record of a file not kept:
    # the infected one has its own (kept: quarantined), fine.pdf none
    assert files["fine.pdf"]["id"] is None
    assert scan.record(files["bad.txt"]["id"])["status"] == "quarantined"
    assert not [x for x in scan.records()
                if x["original_name"] == "fine.pdf"]


def test_nested_beyond_max_recursion_is_never_clean(scan):
    deep = nested_zip(b"nothing to see\n", 12)
    r = post(scan.port, "/scan", multipart([part("f", deep, "deep.zip")]))
    assert r.status == 422, r
    a = r.json()
    assert a["error"] == "unscannable"
    assert a["signature"].startswith("Heuristics.Limits.Exceeded")
    rec = scan.record(a["files"][0]["id"])
    assert rec["status"] == "rejected" and rec["reason"] == "unscannable"
    assert rec["scan"] == "unscannable"
    # where limits are accepted, stored but flagged
    r = post(scan.port, "/scan/lenient",
             multipart([part("f", deep, "deep.zip")]))
    assert r.status == 201, r
    a = r.json()
    assert a["scan"] == "unscannable" and a["status"] == "stored"
    assert a["signature"].startswith("Heuristics.Limits.Exceeded")
    assert scan.record(a["id"])["scan"] == "unscannable"


def test_file_beyond_max_filesize_is_never_clean(scan):
    big = zip_of({"data.bin": os.urandom(3 * 1024 * 1024)},
                 zipfile.ZIP_STORED)
    r = post(scan.port, "/scan", multipart([part("f", big, "big.zip")]))
    assert r.status == 422, r
    assert r.json()["signature"] == \
        "Heuristics.Limits.Exceeded.MaxFileSize"


def test_encrypted_archive_is_never_clean(scan, tmp_path):
    (tmp_path / "eicar.com").write_bytes(EICAR)
    subprocess.run(["zip", "-q", "-P", "secret", "enc.zip", "eicar.com"],
                   cwd=tmp_path, check=True)
    data = (tmp_path / "enc.zip").read_bytes()
    r = post(scan.port, "/scan", multipart([part("f", data, "enc.zip")]))
    assert r.status == 422, r
    assert r.json()["error"] == "unscannable"
    assert r.json()["signature"].startswith("Heuristics.Encrypted")


def test_scan_beyond_max_scantime_is_never_clean(nginx_conf):
    """gatehouse_clamav_limits max_scantime: a scan that takes longer is
    unscannable (gatehouse_upload_on_scan_limit), never clean."""
    n = nginx_conf
    db = make_clamav_db(n.prefix / "clamav")
    n.write(http=f"    gatehouse_clamav_db {db};\n"
                 "    gatehouse_clamav_limits max_scantime=1ms;\n",
            server=f"""\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_max_file_size 8m;
        }}
""")
    n.start()
    # 8 MiB of zeros, deflated to a few KiB: far more than a millisecond
    big = zip_of({"zeros.bin": bytes(8 << 20)})
    r = post(n.port, "/scan", multipart([part("f", big, "z.zip")]))
    assert r.status == 422, r
    assert r.json()["error"] == "unscannable"
    assert r.json()["signature"] == "Heuristics.Limits.Exceeded.MaxScanTime"
    assert n.stored() == []


def test_scanning_off_in_a_location(scan):
    r = post(scan.port, "/noscan", multipart([part("f", EICAR, "e.txt")]))
    assert r.status == 201, r
    assert r.json()["scan"] == "not_scanned"


def worker_pids(n):
    """The nginx workers of n (children of its master)."""
    kids = pathlib.Path(f"/proc/{n.proc.pid}/task/{n.proc.pid}/children")
    return [int(x) for x in kids.read_text().split()]


def rss_anon_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def test_big_file_is_scanned_from_a_mapping(scan):
    """From 256 KiB up a file is handed to libclamav as mapped memory:
    EICAR at its end is found, a clean one is stored."""
    clean = png_bytes(1536 * 1024)
    bad = png_bytes(1536 * 1024) + EICAR
    r = post(scan.port, "/scan", multipart([part("f", bad, "big.png")]))
    assert r.status == 422, r
    assert "EICAR" in r.json()["signature"], r.json()
    r = post(scan.port, "/scan", multipart([part("f", clean, "big.png")]))
    assert r.status == 201, r
    assert r.json()["scan"] == "clean"


def test_worker_private_memory_flat_while_scanning(scan):
    """libclamav given a file reads it into private memory as large as the
    file; the module maps it instead, so scanning 1.9 MB adds far less
    than 1.9 MB to a worker's anonymous memory (sampled every ms while
    uploads of that size are scanned one after another)."""
    data = png_bytes(1900 * 1024)
    pids = worker_pids(scan)
    base = {p: rss_anon_kib(p) for p in pids}
    peak = dict(base)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for p in pids:
                peak[p] = max(peak[p], rss_anon_kib(p))
            time.sleep(0.001)
    t = threading.Thread(target=sample)
    t.start()
    try:
        for i in range(6):
            r = post(scan.port, "/scan",
                     multipart([part("f", data, f"m{i}.png")]))
            assert r.status == 201, r
    finally:
        done.set()
        t.join()
    growth = max(peak[p] - base[p] for p in pids)
    assert growth < 900, (base, peak)


def test_concurrent_scans(scan):
    """Eight uploads at once share the engine from the pool's threads."""
    clean = zip_of({"a.bin": os.urandom(512 * 1024)})
    bad = zip_of({"a.bin": os.urandom(512 * 1024), "e.com": EICAR})

    def one(i):
        data = bad if i % 2 else clean
        return i, post(scan.port, "/scan",
                       multipart([part("f", data, f"c{i}.zip")]))
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(16)))
    for i, r in results:
        assert r.status == (422 if i % 2 else 201), (i, r)


def test_scanner_that_cannot_work(nginx_conf):
    """A database libclamav refuses leaves the worker without an engine:
    that is logged, and scans fail by gatehouse_upload_on_scan_error."""
    n = nginx_conf
    db = n.prefix / "bad.ndb"
    db.write_text("this is not a signature\n")
    n.write(http=f"    gatehouse_clamav_db {db};\n", server=f"""\
        location = /reject {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
        location = /accept {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_on_scan_error accept;
        }}
""")
    n.log_allow = ("virus scanner for",)
    n.start()
    r = post(n.port, "/reject", multipart([part("f", png_bytes(), "a.png")]))
    assert r.status == 503, r
    assert r.json()["error"] == "scan_failed"
    assert n.stored() == []
    r = post(n.port, "/accept", multipart([part("f", png_bytes(), "a.png")]))
    assert r.status == 201, r
    assert r.json()["scan"] == "error"
    assert f"clamav: loading {db}: " in n.error_log()


def test_http2(scan, tmp_path):
    bad = tmp_path / "e.zip"
    bad.write_bytes(zip_of({"e.com": EICAR}))
    code, version, body = curl_h2(scan.port2, "/scan", f"f=@{bad}")
    assert (code, version) == (422, "2"), body
    assert json.loads(body)["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
    good = tmp_path / "g.pdf"
    good.write_bytes(PDF)
    code, version, body = curl_h2(scan.port2, "/scan", f"f=@{good}")
    assert (code, version) == (201, "2"), body
    assert json.loads(body)["scan"] == "clean"


def test_client_gone_while_scanning(scan):
    """The whole body is sent and the client leaves at once, while the
    job scans: the upload is still stored and recorded, the worker
    unharmed."""
    data = zip_of({"a.bin": os.urandom(1536 * 1024)}, zipfile.ZIP_STORED)
    body = multipart([part("f", data, "left.zip")])
    head = request_head("/scan", ctype(), len(body))
    with socket.create_connection(("127.0.0.1", scan.port), timeout=10) as s:
        s.sendall(head + body)
    for _ in range(300):
        recs = [x for x in scan.records()
                if x["original_name"] == "left.zip"]
        if recs and recs[0]["status"] == "stored":
            break
        time.sleep(0.05)
    else:
        raise AssertionError(scan.records()[:2])
    assert recs[0]["sha256"] == sha256(data)
    r = post(scan.port, "/scan", multipart([part("f", PDF, "after.pdf")]))
    assert r.status == 201, r


def test_libclamav_clean_after_an_error_is_not_clean(nginx_conf):
    """libclamav 1.4 answers "no virus" when it cannot make its temporary
    directory, even for an archive with EICAR inside; the module counts
    the error libclamav reports and refuses the upload (on_scan_error
    reject) instead of storing it."""
    n = nginx_conf
    if not n.root:
        pytest.skip("needs root for a directory the worker cannot enter")
    db = make_clamav_db(n.prefix / "clamav")
    locked = n.prefix / "locked"
    locked.mkdir(mode=0o700)
    n.write(http=f"    gatehouse_clamav_db {db};\n"
                 f"    gatehouse_clamav_tmp {locked}/tmp;\n",
            server=f"""\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
""")
    n.log_allow = ("Can't create temporary directory",)
    n.start()
    r = post(n.port, "/scan",
             multipart([part("f", zip_of({"e.com": EICAR}), "e.zip")]))
    assert r.status == 503, r
    assert r.json()["error"] == "scan_failed"
    assert n.stored() == []
    assert "libclamav: Can't create temporary directory" in n.error_log()
