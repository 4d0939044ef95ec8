"""The milter's verdict cache ([milter] scan_cache) and its clamd backend
([milter] clamd_socket), through Postfix.

The cache keeps clean and infected verdicts in the mail store under the
SHA-256 of the message as scanned and the signatures' version: the same
message again is answered without a scan (the record's scan has
"cached": true, the log line "scan=cached"), after a restart too; a
signature database that changes makes the earlier verdicts unusable."""
import base64
import os
import secrets
import smtplib

import pytest

import mailenv
from mailenv import DOMAIN, send, simple_message

from clamd_support import Clamd, write_daily

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
         b"$H+H*")


def write_db(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / "gatehouse-test.ndb").write_text(
        f"Gatehouse.Test.EICAR:0:*:{EICAR.hex()}\n")
    os.chmod(path, 0o755)
    return path


def with_attachment(subject, payload):
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    body = (b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--B\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"x.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 +
            b"--B--\r\n")
    return simple_message(subject, extra=["MIME-Version: 1.0",
                                          "Content-Type: multipart/mixed; "
                                          "boundary=\"B\""], body=body)


@pytest.fixture
def scanner(milter_factory):
    def make(**milter):
        m = milter_factory(start=False)
        db = write_db(m.base / "clamav")
        m.write_conf(milter={"scan": "yes", "clamav_db": str(db),
                             "clamav_check": "0", **milter})
        m.start()
        return m, db
    return make


def deliver(world, m, raw):
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"], raw)
    return m.last_record()


def refuse(world, m, raw):
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"], raw)
    assert ei.value.smtp_code == 550, ei.value
    return ei.value.smtp_error, m.last_record()


def test_repeat_is_answered_from_the_cache_across_a_restart(world, scanner):
    m, _ = scanner()
    raw = with_attachment("cache " + secrets.token_hex(4),
                          b"same bytes " * 200)
    rec = deliver(world, m, raw)
    assert rec["scan"] == {"result": "clean", "detail": ""}
    rec = deliver(world, m, raw)
    assert rec["scan"]["result"] == "clean"
    assert rec["scan"]["cached"] is True
    assert "scan=cached" in m.log()
    infected = with_attachment("cached virus", EICAR)
    err, rec = refuse(world, m, infected)
    assert "cached" not in rec["scan"]
    err2, rec = refuse(world, m, infected)
    assert err2 == err == b"5.7.1 virus found: Gatehouse.Test.EICAR.UNOFFICIAL"
    assert rec["scan"] == {"result": "infected", "cached": True,
                           "detail": "Gatehouse.Test.EICAR.UNOFFICIAL"}
    # another milter process, the same store
    m.stop()
    m.start()
    rec = deliver(world, m, raw)
    assert rec["scan"]["cached"] is True


def test_a_new_signature_invalidates_a_cached_clean(world, scanner):
    m, db = scanner()
    marker = b"gatehouse-cache-marker-" + secrets.token_hex(16).encode()
    raw = with_attachment("marker", marker)
    assert deliver(world, m, raw)["scan"]["result"] == "clean"
    assert deliver(world, m, raw)["scan"].get("cached") is True
    (db / "extra.ndb").write_text(f"Gatehouse.Test.Marker:0:*:{marker.hex()}\n")
    assert m.reload()
    err, rec = refuse(world, m, raw)
    assert b"Gatehouse.Test.Marker" in err
    assert "cached" not in rec["scan"]


def test_cache_off(world, scanner):
    m, _ = scanner(scan_cache="no")
    raw = with_attachment("uncached", b"other bytes " * 100)
    for _ in range(2):
        rec = deliver(world, m, raw)
        assert rec["scan"] == {"result": "clean", "detail": ""}
    assert "scan=cached" not in m.log()


@pytest.fixture
def clamd(tmp_path):
    db = write_db(tmp_path / "clamd-db")
    c = Clamd(db)
    try:
        yield c.start()
    finally:
        c.cleanup()


def test_clamd_backend(world, milter_factory, clamd):
    m = milter_factory(start=False)
    m.write_conf(milter={"scan": "yes", "clamd_socket": str(clamd.sock),
                         "clamav_db": "/nonexistent"})
    m.start()
    assert "clamd" in m.log()
    err, rec = refuse(world, m, with_attachment("clamd virus", EICAR))
    assert err == b"5.7.1 virus found: Gatehouse.Test.EICAR.UNOFFICIAL"
    assert rec["scan"]["result"] == "infected"
    rec = deliver(world, m, with_attachment("clamd clean", b"fine " * 50))
    assert rec["scan"] == {"result": "clean", "detail": ""}
    # clamd's test database has no version: nothing is cached
    rec = deliver(world, m, with_attachment("clamd clean", b"fine " * 50))
    assert "cached" not in rec["scan"]
    # clamd gone: on_scan_error (tempfail by default)
    clamd.stop()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("clamd down", b"fine " * 50))
    assert ei.value.smtp_code == 451, ei.value
    assert b"clamd" in ei.value.smtp_error


def test_clamd_verdict_cache_follows_the_daily_version(world, milter_factory,
                                                       tmp_path):
    db = write_daily(tmp_path / "daily", 42, {"Gatehouse.Test.EICAR": EICAR})
    c = Clamd(db)
    try:
        c.start()
        m = milter_factory(start=False)
        m.write_conf(milter={"scan": "yes", "clamd_socket": str(c.sock)})
        m.start()
        marker = b"gatehouse-clamd-marker-" + secrets.token_hex(16).encode()
        raw = with_attachment("clamd marker", marker)
        assert deliver(world, m, raw)["scan"]["result"] == "clean"
        assert deliver(world, m, raw)["scan"].get("cached") is True
        write_daily(db, 43, {"Gatehouse.Test.EICAR": EICAR,
                             "Gatehouse.Test.Marker": marker})
        c.reload(43)
        err, rec = refuse(world, m, raw)
        assert b"Gatehouse.Test.Marker" in err
        assert "cached" not in rec["scan"]
        err, rec = refuse(world, m, raw)
        assert rec["scan"]["cached"] is True
    finally:
        c.cleanup()
