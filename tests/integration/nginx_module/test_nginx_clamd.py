"""gatehouse_clamav_db clamd:SOCKET: uploads scanned by Debian's real
clamd (started here with a tiny test database, StreamMaxLength 1M), with
the verdicts and answers of the libclamav backend, and no engine loaded in
the workers."""
import io
import os
import zipfile

import pytest

from ngx_support import EICAR, Nginx, check_log, make_clamav_db
from gh_http import PDF, multipart, part, post

from clamd_support import Clamd, write_daily


SERVER = """\
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 8m;
            gatehouse_upload_category documents pdf;
            gatehouse_upload_category notes txt mime=text/plain;
            gatehouse_upload_category archives zip;
        }}
        location = /scan/lenient {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 8m;
            gatehouse_upload_on_scan_error accept;
            gatehouse_upload_category notes txt mime=text/plain;
        }}
"""


@pytest.fixture(scope="module")
def env():
    n = Nginx()
    c = Clamd(make_clamav_db(n.prefix / "clamav"))
    try:
        c.start()
        n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                     f"    gatehouse_clamav_db clamd:{c.sock};\n",
                server=SERVER.format(uploads=n.uploads))
        n.log_allow = ("clamd: connect",)
        n.start()
        yield n, c
    finally:
        log = n.error_log()
        n.cleanup()
        c.cleanup()
    check_log(log, n.log_allow)


def test_no_engine_in_the_workers(env):
    n, c = env
    post(n.port, "/scan", multipart([part("f", PDF, "a.pdf")]))
    log = n.error_log()
    assert f'scans go to clamd at "{c.sock}"' in log
    assert "clamav engine ready" not in log


def test_clean_is_stored(env):
    n, _ = env
    r = post(n.port, "/scan", multipart([part("f", PDF, "clean.pdf")]))
    assert r.status == 201, r
    assert r.json()["scan"] == "clean"


def test_eicar_is_quarantined(env):
    n, _ = env
    before = len(n.quarantined())
    r = post(n.port, "/scan", multipart([part("f", EICAR, "e.txt")]))
    assert r.status == 422, r
    a = r.json()
    assert a["error"] == "infected"
    assert a["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
    assert n.record(a["id"])["status"] == "quarantined"
    assert len(n.quarantined()) == before + 1


def test_eicar_in_a_zip(env):
    n, _ = env
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("docs/readme.txt", "hello\n")
        z.writestr("docs/eicar.com", EICAR)
    r = post(n.port, "/scan", multipart([part("f", buf.getvalue(), "a.zip")]))
    assert r.status == 422, r
    assert r.json()["error"] == "infected"


def test_over_stream_max_length_is_unscannable(env):
    """clamd's "INSTREAM size limit exceeded" is the same answer as
    libclamav's unscannable: 422, never stored."""
    n, _ = env
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("r.bin", os.urandom(3 << 19))    # 1.5 MiB > 1M
    stored = n.stored()
    r = post(n.port, "/scan", multipart([part("f", buf.getvalue(),
                                                "big.zip")]))
    assert r.status == 422, r
    a = r.json()
    assert a["error"] == "unscannable"
    assert a["signature"] == "clamd: INSTREAM size limit exceeded"
    assert n.stored() == stored


def test_clamd_down_follows_on_scan_error(env):
    n, c = env
    c.stop()
    try:
        r = post(n.port, "/scan", multipart([part("f", b"hi\n", "a.txt")]))
        assert r.status == 503, r
        assert r.json()["error"] == "scan_failed"
        r = post(n.port, "/scan/lenient",
                 multipart([part("f", b"hi\n", "a.txt")]))
        assert r.status == 201, r
        assert r.json()["scan"] == "error"
        rec = n.record(r.json()["id"])
        assert rec["scan_error"].startswith("clamd: connect"), rec
    finally:
        c.start()
    r = post(n.port, "/scan", multipart([part("f", b"hi\n", "a.txt")]))
    assert r.status == 201, r


def test_bad_clamd_socket_is_refused(tmp_path):
    n = Nginx()
    try:
        n.write(http="    gatehouse_clamav_db clamd:relative.sock;\n")
        p = n.test()
        assert p.returncode != 0
        assert "needs the absolute path of clamd's socket" in p.stderr
    finally:
        n.cleanup()


def test_verdict_cache_follows_clamds_daily_version(tmp_path):
    """With a database version (freshclam's daily), clean and infected
    verdicts are cached under clamd's VERSION; a new daily version (a
    signature for a file cached clean) invalidates them."""
    n = Nginx()
    db = write_daily(tmp_path / "db", 42, {"Gatehouse.Test.EICAR": EICAR})
    c = Clamd(db)
    try:
        c.start()
        n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                     f"    gatehouse_clamav_db clamd:{c.sock};\n",
                server=SERVER.format(uploads=n.uploads))
        n.start()
        data = b"gatehouse-clamd-marker " + os.urandom(8).hex().encode()

        def up():
            r = post(n.port, "/scan", multipart([part("f", data, "m.txt")]))
            a = r.json()
            return r.status, a, n.record(a["id"])

        st, a, rec = up()
        assert st == 201 and "scan_cached" not in rec, rec
        st, a, rec = up()
        assert st == 201 and rec["scan_cached"] is True, rec
        write_daily(db, 43, {"Gatehouse.Test.EICAR": EICAR,
                             "Gatehouse.Test.Marker": data})
        c.reload(43)
        st, a, rec = up()
        assert st == 422, (st, a)
        assert a["signature"] == "Gatehouse.Test.Marker.UNOFFICIAL"
        assert "scan_cached" not in rec
        st, a, rec = up()
        assert st == 422 and rec["scan_cached"] is True, rec
    finally:
        log = n.error_log()
        n.cleanup()
        c.cleanup()
    check_log(log)
