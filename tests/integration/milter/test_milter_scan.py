"""Attachment scanning with libclamav through Postfix.

No signature download is possible here, so each test writes a tiny custom
database that detects the EICAR test string: an .ndb body signature (hex
of the string, any file type) under a name of our own, so a detection can
only come from our database.
"""
import base64
import binascii
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


def uuencoded(data, name="eicar.com"):
    lines = [f"begin 644 {name}".encode()]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]).rstrip(b"\n"))
    return b"\r\n".join(lines + [b"`", b"end"]) + b"\r\n"


def b64(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def uu_message(subject):
    # a text/plain message whose body hides a uuencoded EICAR: no MIME
    # attachment at all, only libclamav's mail parser finds it
    return simple_message(subject, extra=["Content-Type: text/plain"],
                          body=b"Hello, the file:\r\n\r\n" +
                          uuencoded(EICAR) + b"\r\nBye.\r\n")


def second_ct_message(subject):
    # a first Content-Type: text/plain, then a second one that makes the
    # message multipart, as some readers take it
    return simple_message(
        subject, extra=["MIME-Version: 1.0", "Content-Type: text/plain",
                        'Content-Type: multipart/mixed; boundary="B"'],
        body=b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
             b"--B\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(EICAR) +
             b"--B--\r\n")


def nested_multipart_message(subject):
    # the attachment in a multipart/mixed part inside the first one
    return simple_message(
        subject, extra=["MIME-Version: 1.0",
                        'Content-Type: multipart/mixed; boundary="A"'],
        body=b"--A\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
             b'--A\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
             b"--B\r\nContent-Type: text/plain\r\n\r\ninner\r\n"
             b"--B\r\nContent-Type: application/octet-stream\r\n"
             b'Content-Disposition: attachment; filename="x.com"\r\n'
             b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(EICAR) +
             b"--B--\r\n--A--\r\n")


def rejected(world, msg):
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"], msg)
    assert ei.value.smtp_code == 550
    return ei.value.smtp_error


def test_eicar_hidden_anywhere_is_found(world, scanner):
    # scan_text's default (yes): every message is scanned whole by
    # libclamav's mail parser
    m, _ = scanner()
    sig = b"5.7.1 virus found: Gatehouse.Test.EICAR-1.UNOFFICIAL"
    # an attachment after a first text/plain part
    assert rejected(world, with_attachment("after text", EICAR)) == sig
    # a uuencoded body in a text/plain message
    assert rejected(world, uu_message("uuencoded")) == sig
    # a second Content-Type: multipart/mixed
    assert rejected(world, second_ct_message("second ct")) == sig
    # a multipart/mixed nested in the first
    assert rejected(world, nested_multipart_message("nested mp")) == sig
    # a plain text body
    assert rejected(world, simple_message("plain eicar",
                                          body=EICAR + b"\r\n")) == sig
    for subject in ("after text", "uuencoded", "second ct", "nested mp",
                    "plain eicar"):
        assert m.record_for(subject)["scan"] == {
            "result": "infected",
            "detail": "Gatehouse.Test.EICAR-1.UNOFFICIAL"}, subject
    # the same shapes, clean, pass
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("plain clean", body=b"nothing here\r\n"))
    assert m.record_for("plain clean")["scan"] == {"result": "clean",
                                                  "detail": ""}


def test_plain_text_is_not_scanned_when_turned_off(world, scanner):
    m, _ = scanner(scan_text="no")
    # EICAR pasted into a plain text body: nothing attached, not scanned
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("plain eicar", body=EICAR + b"\r\n"))
    assert m.record_for("plain eicar")["scan"] == {"result": "skipped",
                                                  "detail": "no attachment"}
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("plain ct eicar", extra=["Content-Type: text/plain"],
                        body=EICAR + b"\r\n"))
    assert m.record_for("plain ct eicar")["scan"]["result"] == "skipped"
    # but what only looks like plain text is scanned: a uuencoded part,
    # a second Content-Type, an attachment after a text part
    sig = b"5.7.1 virus found: Gatehouse.Test.EICAR-1.UNOFFICIAL"
    assert rejected(world, uu_message("uuencoded")) == sig
    assert rejected(world, second_ct_message("second ct")) == sig
    assert rejected(world, with_attachment("after text", EICAR)) == sig
    assert rejected(world, nested_multipart_message("nested mp")) == sig
    # a "begin" line that is not uuencode does not make text scanned
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("begin words", body=b"begin 64 days of rest\r\n"
                        b"begin 644\r\n" + EICAR + b"\r\n"))
    assert m.record_for("begin words")["scan"]["result"] == "skipped"


def encrypted_zip(tmp_path):
    (tmp_path / "eicar.com").write_bytes(EICAR)
    subprocess.run(["zip", "-q", "-P", "secret", "enc.zip", "eicar.com"],
                   cwd=tmp_path, check=True)
    return (tmp_path / "enc.zip").read_bytes()


def test_unscannable_follows_on_scan_limit(world, scanner, tmp_path):
    enc = encrypted_zip(tmp_path)
    # the default: accepted, as before such messages were told apart, and
    # recorded as not scanned whole
    m, _ = scanner()
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         with_attachment("encrypted accepted", enc))
    assert m.record_for("encrypted accepted")["scan"] == {
        "result": "unscannable", "detail": "Heuristics.Encrypted.Zip"}
    assert m.record_for("encrypted accepted")["action"] == "accepted"
    m.stop()
    m, _ = scanner(on_scan_limit="reject")
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("encrypted rejected", enc))
    assert ei.value.smtp_code == 550
    assert ei.value.smtp_error == (b"5.7.1 message not scannable "
                                   b"(encrypted): Heuristics.Encrypted.Zip")
    assert m.record_for("encrypted rejected")["action"] == "rejected"
    # a virus beside the encrypted archive is still a virus
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("both", enc + b"\r\n" + EICAR))
    assert b"virus found: Gatehouse.Test.EICAR-1" in ei.value.smtp_error
    m.stop()
    m, _ = scanner(on_scan_limit="tempfail")
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             with_attachment("encrypted tempfailed", enc))
    assert ei.value.smtp_code == 451
    assert b"not scannable (encrypted)" in ei.value.smtp_error


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
