"""gatehouse-milter as a daemon: reload on SIGHUP (pinned per connection,
a failed reload keeps the old configuration, a burst of signals never
stops libmilter), the SIGTERM drain, store failures, aborted messages,
privilege dropping, daemon mode and start-up errors.
"""
import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import time

import pytest

import mailenv
from mailenv import DOMAIN, send, signatures, simple_message, smtp


def sels(raw):
    return sorted(s["s"] for s in signatures(raw))


def test_reload_is_pinned_per_connection(world, milter_factory):
    m = milter_factory(keys=(("rsa1", "rsa"),))
    s1 = smtp(world.postfix.port)
    try:
        s1.sendmail(f"joe@{DOMAIN}", ["bob@example.net"],
                    simple_message("pin a"))
        assert sels(world.sink.find(b"Subject: pin a")[2]) == ["rsa1"]
        m.add_key("ed1", "ed25519")
        assert m.reload()
        assert "reloaded: configuration 2" in m.log()
        assert "2 signing keys" in m.log().split("reloaded:")[-1]
        # same SMTP session, same milter connection: the old configuration
        s1.sendmail(f"joe@{DOMAIN}", ["bob@example.net"],
                    simple_message("pin b"))
        assert sels(world.sink.find(b"Subject: pin b")[2]) == ["rsa1"]
        # a new session gets the new one
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("pin c"))
        out = world.sink.find(b"Subject: pin c")[2]
        assert sels(out) == ["ed1", "rsa1"]
        assert mailenv.verify_all(out, m.keys) == [True, True]
    finally:
        with contextlib.suppress(Exception):
            s1.quit()


def test_failed_reload_keeps_the_old_configuration(world, milter):
    good = milter.conf.read_text()
    milter.conf.write_text(good + "\n[milter]\nno_such_key = 1\n")
    assert not milter.reload()
    assert "reload failed, keeping configuration 1" in milter.log()
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("after bad reload"))
    out = world.sink.find(b"Subject: after bad reload")[2]
    assert mailenv.verify_all(out, milter.keys) == [True, True]
    # a key that does not load is a failed reload too
    milter.conf.write_text(good)
    bad = milter.keydir / DOMAIN / "broken.key"
    bad.write_text("not a key\n")
    assert not milter.reload()
    assert "broken.key" in milter.log().split("SIGHUP")[-1]


def test_sighup_burst_never_stops_libmilter(world, milter):
    # libmilter's own signal thread would stop the milter on SIGHUP; ours
    # must be the one that gets every one of them
    # several senders at once, so that signals arrive while our handler
    # is still running
    pid = milter.proc.pid
    senders = [subprocess.Popen(["sh", "-c", f"for i in $(seq 150); do "
                                 f"kill -HUP {pid} || exit 1; done"])
               for _ in range(4)]
    assert [p.wait(60) for p in senders] == [0, 0, 0, 0]
    # libmilter's listener would take up to 5 s to notice a stop; its
    # socket closes at once, which the messages below would see
    time.sleep(1.0)
    assert milter.proc.poll() is None, milter.log()
    assert "stopped on its own" not in milter.log()
    try:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("after burst"))
    except Exception:
        print("MILTER LOG\n" + milter.log()[-3000:])
        print("POSTFIX LOG\n" + world.postfix.log()[-3000:])
        raise
    out = world.sink.find(b"Subject: after burst")[2]
    assert mailenv.verify_all(out, milter.keys) == [True, True]


def raw_smtp(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = s.makefile("rwb")

    def cmd(line, expect):
        if line is not None:
            f.write(line + b"\r\n")
            f.flush()
        while True:
            r = f.readline()
            assert r, "connection closed"
            if r[3:4] != b"-":
                break
        assert r.startswith(expect), r
        return r
    cmd(None, b"220")
    return s, f, cmd


def test_sigterm_drains_messages_in_progress(world, milter):
    s, f, cmd = raw_smtp(world.postfix.port)
    cmd(b"EHLO client.test", b"250")
    cmd(b"MAIL FROM:<joe@example.org>", b"250")
    cmd(b"RCPT TO:<bob@example.net>", b"250")
    cmd(b"DATA", b"354")
    f.write(simple_message("drained")[:-2])
    f.flush()
    time.sleep(0.3)
    milter.signal(signal.SIGTERM)
    mailenv.wait_for(lambda: "stopping: refusing new mail" in milter.log(),
                     10, "drain to start")
    # a new session meanwhile is refused with a temporary error
    with pytest.raises(smtplib.SMTPException) as ei:
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("during drain"))
    assert getattr(ei.value, "smtp_code", 0) // 100 == 4, ei.value
    time.sleep(0.5)
    assert milter.proc.poll() is None, "exited with a message in progress"
    f.write(b"more body\r\n.\r\n")
    f.flush()
    cmd(None, b"250")
    cmd(b"QUIT", b"221")
    s.close()
    assert milter.proc.wait(20) == 0
    assert "1 message in progress" in milter.log()
    out = world.sink.find(b"Subject: drained")[2]
    assert mailenv.verify_all(out, milter.keys) == [True, True]
    assert milter.record_for("drained")["action"] == "accepted"


def test_aborted_message_is_logged(world, milter):
    s, f, cmd = raw_smtp(world.postfix.port)
    cmd(b"EHLO client.test", b"250")
    cmd(b"MAIL FROM:<dropper@example.org>", b"250")
    cmd(b"RCPT TO:<bob@example.net>", b"250")
    cmd(b"DATA", b"354")
    f.write(simple_message("dropped midway")[:-2])
    f.flush()
    time.sleep(0.3)
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    # Postfix hands the header over only at the end: the record has the
    # envelope, not the subject
    recs = mailenv.wait_for(lambda: milter.mail_log("--sender",
                                                     "dropper@example.org"),
                            20, "the aborted record")
    assert recs[0]["action"] == "aborted"
    assert recs[0]["rcpts"] == ["bob@example.net"]
    # MAIL/RCPT then RSET is not worth a record
    s, f, cmd = raw_smtp(world.postfix.port)
    cmd(b"EHLO client.test", b"250")
    cmd(b"MAIL FROM:<probe@example.org>", b"250")
    cmd(b"RCPT TO:<bob@example.net>", b"250")
    cmd(b"RSET", b"250")
    cmd(b"QUIT", b"221")
    s.close()
    time.sleep(0.5)
    assert milter.mail_log("--sender", "probe@example.org") == []


def test_missing_store_tempfails_logs_once_and_recovers(world, milter_factory,
                                                        tmp_path):
    store = tmp_path / "not-yet"
    m = milter_factory(store=store, start=False, init=False)
    m.start()
    for i in range(3):
        with pytest.raises(smtplib.SMTPDataError) as ei:
            send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
                 simple_message(f"no store {i}"))
        assert ei.value.smtp_code == 451
        assert b"store unavailable" in ei.value.smtp_error
    assert m.log().count("store open: ") == 1, m.log()
    m.gh("store", "init")
    time.sleep(2.2)   # the milter retries opening at most every 2 s
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("store back"))
    assert "store open: recovered" in m.log()
    assert m.record_for("store back")["action"] == "accepted"


def test_missing_store_accept_policy(world, milter_factory, tmp_path):
    m = milter_factory(store=tmp_path / "nowhere", init=False,
                       milter={"on_store_error": "accept"})
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("accepted unlogged"))
    out = world.sink.find(b"Subject: accepted unlogged")[2]
    assert mailenv.verify_all(out, m.keys) == [True, True]


def test_locked_store_tempfails(world, milter_factory):
    m = milter_factory(lock_timeout="300ms")
    with open(m.store / "wlock", "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        with pytest.raises(smtplib.SMTPDataError) as ei:
            send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
                 simple_message("locked out"))
        fcntl.lockf(f, fcntl.LOCK_UN)
    assert ei.value.smtp_code == 451
    assert "store write: " in m.log()
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("unlocked"))
    assert m.record_for("unlocked")["action"] == "accepted"
    assert "store write: recovered" in m.log()


def test_drops_privileges(world, milter_factory):
    nobody = pwd.getpwnam("nobody")
    m = milter_factory(start=False, milter={"user": "nobody"})
    for p in [m.keydir, *m.keydir.rglob("*"), m.store, *m.store.iterdir()]:
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    # The pid file: the milter's user writes it.  Owned by that user, not
    # world-writable: a store under a directory others may write is refused.
    os.chown(m.base, nobody.pw_uid, nobody.pw_gid)
    m.start()
    status = open(f"/proc/{m.proc.pid}/status").read()
    uid_line = [ln for ln in status.splitlines() if ln.startswith("Uid:")][0]
    assert uid_line.split()[1:] == [str(nobody.pw_uid)] * 4
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("as nobody"))
    out = world.sink.find(b"Subject: as nobody")[2]
    assert mailenv.verify_all(out, m.keys) == [True, True]
    assert m.record_for("as nobody")["action"] == "accepted"


def test_daemon_mode_pid_file_and_start_errors(world, milter_factory):
    m = milter_factory(start=False)
    env = m.env()
    p = subprocess.run([str(mailenv.MILTER), "-c", str(m.conf)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    pid = int(m.pidfile.read_text())
    try:
        assert os.path.exists(f"/proc/{pid}")
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("from daemon"))
        out = world.sink.find(b"Subject: from daemon")[2]
        assert mailenv.verify_all(out, m.keys) == [True, True]
        # a second instance refuses to start over the first
        p2 = subprocess.run([str(mailenv.MILTER), "-c", str(m.conf)],
                            env=env, capture_output=True, text=True,
                            timeout=60)
        assert p2.returncode != 0
        assert f"already running, pid {pid}" in p2.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
        mailenv.wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                         "zombie" in mailenv._proc_state(pid), 20,
                         "daemon to stop")
    assert not m.pidfile.exists()
    # start-up errors reach the caller's stderr and exit status
    (m.keydir / DOMAIN / "bad.key").write_text("garbage\n")
    p = subprocess.run([str(mailenv.MILTER), "-c", str(m.conf)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 78, (p.returncode, p.stderr)
    assert "bad.key" in p.stderr


def test_check_mode(world, milter_factory):
    m = milter_factory(start=False)
    p = subprocess.run([str(mailenv.MILTER), "-t", "-c", str(m.conf)],
                       env=m.env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "2 signing keys" in p.stderr
    m.conf.write_text(m.conf.read_text() + "[milter]\nbogus = 1\n")
    p = subprocess.run([str(mailenv.MILTER), "-t", "-c", str(m.conf)],
                       env=m.env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 78
    assert "bogus" in p.stderr
    p = subprocess.run([str(mailenv.MILTER), "-V"], capture_output=True,
                       text=True)
    assert p.returncode == 0 and p.stdout.startswith("gatehouse-milter ")
