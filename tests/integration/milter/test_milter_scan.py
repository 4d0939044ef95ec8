"""Attachment scanning with libclamav through Postfix.

No signature download is possible here, so each test writes a tiny custom
database that detects the EICAR test string: an .ndb body signature (hex
of the string, any file type) under a name of our own, so a detection can
only come from our database.
"""
import base64
import json
import smtplib
import subprocess
import time

import pytest

import mailenv
from mailenv import DOMAIN, INBOUND_DOMAIN, send, simple_message

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
         b"$H+H*")


def write_db(path, name):
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.ndb"):
        old.unlink()
    (path / "gatehouse-test.ndb").write_text(f"{name}:0:*:{EICAR.hex()}\n")


def with_attachment(subject, payload, extra=()):
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    body = (b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--B\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"x.com\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 +
            b"--B--\r\n")
    return simple_message(subject, extra=["MIME-Version: 1.0",
                                          "Content-Type: multipart/mixed; "
                                          "boundary=\"B\""] + list(extra),
                          body=body)


@pytest.fixture
def scanner(milter_factory, world):
    def make(**milter):
        m = milter_factory(start=False,
                           milter={"scan": "yes", **milter})
        db = m.base / "clamav"
        write_db(db, "Gatehouse.Test.EICAR-1")
        m.write_conf(milter={"scan": "yes", "clamav_db": str(db), **milter})
        m.start()
        return m, db
    return make


def test_infected_attachment_is_rejected_naming_the_signature(world, scanner):
    m, _ = scanner()
    assert "virus scanner: 1 signatures" in m.log()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("infected one", EICAR))
    assert ei.value.smtp_code == 550
    assert ei.value.smtp_error == \
        b"5.7.1 virus found: Gatehouse.Test.EICAR-1.UNOFFICIAL"
    rec = m.record_for("infected one")
    assert rec["action"] == "rejected"
    assert rec["scan"] == {"result": "infected",
                           "detail": "Gatehouse.Test.EICAR-1.UNOFFICIAL"}
    evs = [e for e in json.loads(m.gh("--json", "events", "list").stdout)
           if e["type"] == "mail.rejected"]
    assert len(evs) == 1
    assert evs[0]["user"] == f"joe@{DOMAIN}"
    assert "Gatehouse.Test.EICAR-1" in evs[0]["title"]
    # clean mail passes, signed, with the scan in its record
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         with_attachment("clean one", b"just some bytes " * 100))
    out = world.sink.find(b"Subject: clean one")[2]
    assert mailenv.verify_all(out, m.keys) == [True, True]
    assert m.record_for("clean one")["scan"]["result"] == "clean"


def test_inbound_virus_event_goes_to_the_recipient(world, scanner):
    m, _ = scanner()
    with pytest.raises(smtplib.SMTPDataError):
        send(world.postfix.port, "eve@evil.test", [f"carol@{INBOUND_DOMAIN}"],
             with_attachment("inbound infected", EICAR),
             xclient={"ADDR": "203.0.113.66"})
    evs = [e for e in json.loads(m.gh("--json", "events", "list").stdout)
           if e["type"] == "mail.rejected"]
    assert evs[0]["user"] == f"carol@{INBOUND_DOMAIN}"
    assert evs[0]["metadata"]["direction"] == "inbound"


def test_reload_swaps_the_engine_without_a_gap(world, scanner):
    m, db = scanner()
    # an unchanged database is not compiled again
    assert m.reload()
    assert "virus scanner: reusing" in m.log()
    write_db(db, "Gatehouse.Test.EICAR-2")
    # a session open across the reload keeps the engine it started with
    s = mailenv.smtp(world.postfix.port)
    try:
        assert m.reload()
        with pytest.raises(smtplib.SMTPDataError) as ei:
            s.sendmail(f"joe@{DOMAIN}", ["bob@example.net"],
                       with_attachment("old engine", EICAR))
        assert b"EICAR-1" in ei.value.smtp_error
        s.rset()
    finally:
        s.close()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("new engine", EICAR))
    assert b"EICAR-2" in ei.value.smtp_error
    # a broken database keeps the old engine
    (db / "gatehouse-test.ndb").write_text("this is not a signature\n")
    assert not m.reload()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("kept engine", EICAR))
    assert b"EICAR-2" in ei.value.smtp_error


def test_new_database_is_loaded_without_a_signal(world, scanner):
    # what freshclam does: the directory changes and nobody signals the
    # milter; it notices by itself ([milter] clamav_check)
    m, db = scanner(clamav_check="1s")

    def rejected_as():
        with pytest.raises(smtplib.SMTPDataError) as ei:
            send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
                 with_attachment("watched", EICAR))
        return ei.value.smtp_error

    assert b"EICAR-1" in rejected_as()
    write_db(db, "Gatehouse.Test.EICAR-2")
    mailenv.wait_for(lambda: "reloaded:" in m.log(), 30, "the new database")
    assert f"signature database {db} changed: reloading" in m.log()
    assert "SIGHUP" not in m.log()
    assert b"EICAR-2" in rejected_as()
    # a broken database is tried once: the engine stays, and the same
    # broken state is not loaded again at every check
    (db / "gatehouse-test.ndb").write_text("this is not a signature\n")
    mailenv.wait_for(lambda: "reload failed" in m.log(), 30, "the failure")
    time.sleep(4)
    assert m.log().count("reload failed") == 1
    assert b"EICAR-2" in rejected_as()
    # mended: loaded
    write_db(db, "Gatehouse.Test.EICAR-3")
    mailenv.wait_for(lambda: m.log().count("reloaded:") == 2, 30,
                     "the mended database")
    assert b"EICAR-3" in rejected_as()


def test_database_watch_can_be_turned_off(world, scanner):
    m, db = scanner(clamav_check="0")
    write_db(db, "Gatehouse.Test.EICAR-2")
    time.sleep(3)
    assert "changed: reloading" not in m.log()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("unwatched", EICAR))
    assert b"EICAR-1" in ei.value.smtp_error


# more than the milter keeps in memory (scan.h GH_SPOOL_MEM_MAX, 256 KiB):
# such a message needs the spool file
BIG = b"data" * (80 * 1024)


def test_scanner_error_policy(world, scanner):
    # a spool directory that does not exist: every scan of a message too
    # big to keep in memory fails
    m, _ = scanner(spool_dir="/nonexistent-spool")
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("scan error tempfail", BIG))
    assert ei.value.smtp_code == 451
    assert b"virus scanner error" in ei.value.smtp_error
    with pytest.raises(smtplib.SMTPDataError):
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("scan error again", BIG))
    assert m.log().count("scan spool: ") == 1     # logged once
    # a small one is scanned in memory, without the spool directory
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("small infected, no spool", EICAR))
    assert ei.value.smtp_code == 550
    m.stop()
    m2, _ = scanner(spool_dir="/nonexistent-spool", on_scan_error="accept")
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         with_attachment("scan error accept", BIG))
    rec = m2.record_for("scan error accept")
    assert rec["action"] == "accepted"
    assert rec["scan"]["result"] == "error"


def test_big_message_is_scanned_from_the_spool_file(world, scanner):
    # past the memory limit the message moves to the spool file, and the
    # virus at its end is still found
    m, _ = scanner()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("big infected", BIG + EICAR))
    assert ei.value.smtp_code == 550
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         with_attachment("big clean", BIG))
    assert m.record_for("big clean")["scan"]["result"] == "clean"


def test_size_cap(world, scanner):
    m, _ = scanner(scan_max_size="64K")
    payload = b"A" * (200 * 1024)
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         with_attachment("big clean", payload))
    rec = m.record_for("big clean")
    assert rec["scan"]["result"] == "clean"
    assert rec["scan"]["detail"] == "first 65536 bytes scanned"
    # within the cap the virus is found
    with pytest.raises(smtplib.SMTPDataError):
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("small infected", EICAR))


def test_plain_text_is_not_scanned_unless_asked(world, scanner):
    m, _ = scanner()
    # EICAR pasted into a plain text body: no attachment, not scanned
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("plain eicar", body=EICAR + b"\r\n"))
    assert m.record_for("plain eicar")["scan"] == {"result": "skipped",
                                                  "detail": "no attachment"}
    m.stop()
    m2, _ = scanner(scan_text="yes")
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("plain eicar scanned", body=EICAR + b"\r\n"))
    assert ei.value.smtp_code == 550


def test_clamav_tmp_is_made_and_used(world, scanner, tmp_path):
    # libclamav's temporary directory: made if missing, used by every scan
    # (a directory per scan, removed after it), left empty
    tmp = tmp_path / "clamav-tmp"
    m, db = scanner(clamav_tmp=str(tmp))
    assert tmp.is_dir() and (tmp.stat().st_mode & 0o777) == 0o700
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("infected via tmp", EICAR))
    assert ei.value.smtp_code == 550
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         with_attachment("clean via tmp", b"just some bytes " * 100))
    assert m.record_for("clean via tmp")["scan"]["result"] == "clean"
    assert list(tmp.iterdir()) == []
    # a path that cannot be a directory: the configuration is refused
    bad = tmp_path / "a-file"
    bad.write_text("")
    m.write_conf(milter={"scan": "yes", "clamav_db": str(db),
                         "clamav_tmp": str(bad)})
    p = subprocess.run([str(mailenv.MILTER), "-t", "-c", str(m.conf)],
                       capture_output=True, text=True, env=m.env())
    assert p.returncode == 78
    assert f"clamav_tmp {bad}" in p.stderr
