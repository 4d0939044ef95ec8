"""The milter as the packages run it (conf/systemd/gatehouse-milter.service):
`gatehouse-milter -S` as root makes the socket's directory inside Postfix's
queue directory, then the daemon starts as its own user (systemd's User=),
never root, and Postfix's smtpd reaches the socket by the name main.cf
gives it, unix:gatehouse/milter.sock, relative to the queue directory:
chrooted (as Debian ships smtpd and cleanup) and not.
"""
import grp
import os
import pwd
import signal
import smtplib
import socket
import stat
import subprocess

import pytest

import mailenv
from mailenv import DOMAIN, send, simple_message

USER = "nobody"     # stands in for gatehouse-mail


def smtpd_roots():
    """The root directories of the running smtpd processes."""
    roots = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "smtpd":
                roots.add(os.readlink(f"/proc/{pid}/root"))
        except OSError:
            pass
    return roots


def test_started_as_its_user_behind_chrooted_postfix(world, milter_factory):
    pf = world.postfix
    sock = pf.queue_sock
    sockdir = sock.parent
    assert not sockdir.exists()
    m = milter_factory(start=False, socket=f"unix:{sock}",
                       milter={"user": USER})
    nobody = pwd.getpwnam(USER)
    for p in [m.base, m.keydir, *m.keydir.rglob("*"), m.store,
              *m.store.iterdir()]:
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    try:
        # ExecStartPre=+gatehouse-milter -S: as root, the directory only
        p = subprocess.run([str(mailenv.MILTER), "-S", "-c", str(m.conf)],
                           env=m.env(), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        st = sockdir.stat()
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid,
                                           grp.getgrnam("postfix").gr_gid)
        assert stat.S_IMODE(st.st_mode) == 0o2750
        assert not sock.exists()
        # run again on a directory that is there: left as it is
        p = subprocess.run([str(mailenv.MILTER), "-S", "-c", str(m.conf)],
                           env=m.env(), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        # ExecStart= with User=: started as that user, not root
        m.wrap = ["setpriv", f"--reuid={nobody.pw_uid}",
                  f"--regid={nobody.pw_gid}", "--clear-groups"]
        m.start()
        status = open(f"/proc/{m.proc.pid}/status").read()
        uids = [ln for ln in status.splitlines() if ln.startswith("Uid:")]
        assert uids[0].split()[1:] == [str(nobody.pw_uid)] * 4
        assert "running as uid" not in m.log()
        st = sock.stat()
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_gid == grp.getgrnam("postfix").gr_gid
        for port, subject in ((pf.chroot_port, "chrooted smtpd"),
                              (pf.queue_port, "smtpd without chroot")):
            send(port, f"joe@{DOMAIN}", ["bob@example.net"],
                 simple_message(subject))
            out = world.sink.find(f"Subject: {subject}".encode())[2]
            assert mailenv.verify_all(out, m.keys) == [True, True], subject
        # the first really was chrooted: an smtpd whose root is the queue
        assert str(sock.parents[1]) in smtpd_roots()
        m.stop()
        # as someone else than [milter] user, it says so and runs
        m.write_conf(socket=f"unix:{sock}", milter={"user": "daemon"})
        os.chown(m.conf, nobody.pw_uid, nobody.pw_gid)
        m.start()
        assert "running as uid %d, not as [milter] user daemon" % \
            nobody.pw_uid in m.log()
    finally:
        m.stop()
        subprocess.run(["rm", "-rf", str(sockdir)], check=False)


def test_prepare_refuses_a_directory_others_can_write(world, milter_factory,
                                                      tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    m = milter_factory(start=False, socket=f"unix:{d}/milter.sock")
    p = subprocess.run([str(mailenv.MILTER), "-S", "-c", str(m.conf)],
                       env=m.env(), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 73
    assert "writable by group or others" in p.stderr


def test_tells_systemd_ready_reloading_stopping(world, milter_factory,
                                              tmp_path):
    """Type=notify: READY=1 once it listens (not before: Postfix may start
    right after), RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    m = milter_factory(start=False)
    env = m.env()
    env["NOTIFY_SOCKET"] = path
    m.env = lambda: env
    try:
        m.start()
        first = sock.recv(4096).decode()
        assert first.startswith("READY=1\nSTATUS=listening on inet:")
        assert "listening on" in m.log()
        assert m.reload()
        assert sock.recv(4096).decode() == "RELOADING=1"
        assert sock.recv(4096).decode() == "READY=1"
        m.signal(signal.SIGTERM)
        assert sock.recv(4096).decode() == "STOPPING=1"
        assert m.stop() == 0
    finally:
        sock.close()


def test_a_mistyped_socket_need_not_defer_all_mail(world):
    """The setting-up advice (conf/postfix-main.cf.sample): with the
    global milter_default_action = tempfail, a socket Postfix cannot reach
    defers every message; given default_action = accept for the milter
    (Postfix 3.0's per-milter form), mail goes out, unsigned."""
    pf = world.postfix
    assert not pf.queue_sock.exists()
    with pytest.raises(smtplib.SMTPResponseException) as ei:
        send(pf.queue_port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("no milter there"))
    assert ei.value.smtp_code == 451
    send(pf.typo_port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("typo accepted"))
    out = world.sink.find(b"Subject: typo accepted")[2]
    assert mailenv.signatures(out) == []
