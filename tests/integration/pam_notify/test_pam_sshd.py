"""A real OpenSSH server with pam_gatehouse in its auth and session stacks.

sshd runs on 127.0.0.1:2222 from a temporary directory with its own config
and host key.  Its PAM service "sshd" is read from the test's directory
through pam_wrapper (LD_PRELOAD), so /etc/pam.d/sshd and the machine's own
sshd are never touched.  A user is created for the test (useradd, removed
afterwards) and logs in by password with sshpass.

What is checked: the login and the new-host event land in the store and
gatehouse-notifyd delivers the new-host event to a webhook sink, a burst of
wrong passwords raises exactly one login.failed_burst, and a login goes
through while the store's write lock is held by a stopped process (in the
default detach mode the writer then waits and records it; in child mode the
login's own budget ends the attempt and says so in the log).
"""
import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from gh_pam_support import (PAM_WRAPPER, STORETOOL,  # noqa: F401
                            wait_writers, writers)

from nd_sinks import HttpSink

SSHD = "/usr/sbin/sshd"
PORT = 2222


def why_not():
    if os.geteuid() != 0:
        return "needs root (sshd, useradd)"
    for tool in (SSHD, shutil.which("ssh"), shutil.which("sshpass"),
                 shutil.which("useradd"), shutil.which("ssh-keygen")):
        if not tool or not os.path.exists(tool):
            return "openssh-server, openssh-client and sshpass are needed " \
                   "(scripts/install-deps)"
    try:
        socket.create_connection(("127.0.0.1", PORT), 0.2).close()
        return f"127.0.0.1:{PORT} is already in use"
    except OSError:
        pass
    return None


pytestmark = pytest.mark.skipif(why_not() is not None,
                                reason=why_not() or "")


class Sshd:
    def __init__(self, pam, user):
        self.pam = pam
        self.dir = pam.tmp / "sshd"
        self.dir.mkdir()
        key = self.dir / "host_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(key)], check=True)
        self.config = self.dir / "sshd_config"
        self.config.write_text(f"""\
Port {PORT}
ListenAddress 127.0.0.1
HostKey {key}
PidFile {self.dir}/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
AuthorizedKeysFile none
PermitRootLogin no
AllowUsers {user}
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxAuthTries 3
LogLevel VERBOSE
""")
        # sshd's privilege separation directory; Debian's unit makes it
        if not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755)
        subprocess.run([SSHD, "-t", "-f", str(self.config)], check=True)
        self.log = self.dir / "sshd.log"
        env = dict(os.environ, LD_PRELOAD=PAM_WRAPPER, PAM_WRAPPER="1",
                   PAM_WRAPPER_SERVICE_DIR=str(pam.confdir),
                   PAM_WRAPPER_DEBUGLEVEL="2")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f",
                                          str(self.config)], env=env,
                                         stderr=log, stdout=log)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", PORT), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("sshd did not start:\n" + self.log.read_text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SshUser:
    def __init__(self):
        self.name = "ghpam" + secrets.token_hex(3)
        self.password = "Pw-" + secrets.token_hex(8)
        # a home sshd can chdir into (pytest's tmp_path is 0700)
        self.home = pathlib.Path(tempfile.mkdtemp(prefix="ghpam-home-"))
        os.chmod(self.home, 0o755)
        subprocess.run(["useradd", "-M", "-d", str(self.home), "-s",
                        "/bin/sh", self.name], check=True)
        subprocess.run(["chpasswd"], input=f"{self.name}:{self.password}\n",
                       text=True, check=True)

    def remove(self):
        subprocess.run(["userdel", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def user():
    u = SshUser()
    yield u
    u.remove()


@pytest.fixture
def sshd(pam, user, request):
    """sshd with our module; indirect parametrization adds arguments."""
    mode = f" {request.param}" if hasattr(request, "param") else ""
    pam.init_store()
    pam.service("sshd", [
        "auth [success=2 default=ignore] pam_unix.so nodelay",
        "auth [default=ignore] @MODULE@ fail store=@STORE@ fail_burst=3/300"
        + mode,
        "auth requisite pam_deny.so",
        "auth required pam_permit.so",
        "account required pam_unix.so",
        "session required pam_unix.so",
        "session optional @MODULE@ store=@STORE@ notify=always debug" + mode,
    ])
    s = Sshd(pam, user.name)
    yield s
    s.stop()
    print(s.log.read_text()[-4000:])


def install_samples(pam, with_common_session=False):
    """conf/pam.d/{sshd,common-auth,common-session} as shipped, with the
    module's path, our store and a per-file event type filled in, and
    without pam_unix's failure delay.  "@include X" lines are expanded in
    place: Linux-PAM 1.5 looks for included files in /etc/pam.d even under
    pam_start_confdir, and so does pam_wrapper.  X is the machine's own
    /etc/pam.d/X (read, not changed), or our sample for common-session when
    asked."""
    samples = pathlib.Path(__file__).resolve().parents[3] / "conf" / "pam.d"

    def text_of(name, top):
        path = samples / name
        if not top and not (name == "common-session" and with_common_session):
            path = pathlib.Path("/etc/pam.d") / name
        if not path.exists():
            pytest.skip(f"{path} is missing")
        text = path.read_text()
        text = text.replace("pam_gatehouse.so fail fail_burst=5/5m",
                            "@MODULE@ fail store=@STORE@ fail_burst=3/300")
        text = text.replace("pam_gatehouse.so fail ##",
                            "@MODULE@ fail store=@STORE@ fail_burst=3/300")
        text = text.replace("pam_gatehouse.so ##",
                            "@MODULE@ store=@STORE@ notify=always "
                            f"type=login.{name.replace('-', '_')}")
        text = text.replace("pam_unix.so nullok", "pam_unix.so nullok nodelay")
        lines = []
        for line in text.splitlines():
            if line.startswith("@include "):
                lines += text_of(line.split()[1], False)
            else:
                lines.append(line)
        return lines

    for name in ("sshd", "common-auth", "common-session"):
        pam.service(name, text_of(name, True))


def ssh(user, password, command="echo gatehouse-ok", wait=True):
    """Log in; with wait, the module's detached writers are done when this
    returns."""
    r = subprocess.run(
        ["sshpass", "-p", password, "ssh", "-p", str(PORT),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "PreferredAuthentications=password",
         "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
         "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
         f"{user}@127.0.0.1", command],
        capture_output=True, text=True, timeout=60)
    if wait:
        wait_writers()
    return r


NOTIFYD = pathlib.Path(__file__).resolve().parents[3] / "build" / \
    "gatehouse-notifyd"


def start_notifyd(pam, sink):
    """gatehouse-notifyd on the test's store, every event to a webhook."""
    conf = pam.write_conf()
    conf.write_text(conf.read_text() + f"""
[notifyd]
log = stderr
log_level = debug
poll_interval = 50ms
default_channels = hook

[channel.hook]
type = webhook
url = {sink.url("/hook")}
""")
    log = open(pam.tmp / "notifyd.log", "wb")
    proc = subprocess.Popen([str(NOTIFYD), "-c", str(conf)], stdout=log,
                            stderr=log)
    log.close()
    return proc


def stop_notifyd(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_ssh_login_records_login_and_new_host(pam, user, sshd):
    # an earlier login from another network is the user's baseline
    seed = pam.session_service("seed")
    pam.drv(seed, user.name, rhost="10.99.0.5")
    assert pam.events() == []
    sink = HttpSink()
    notifyd = start_notifyd(pam, sink)

    try:
        deliver_and_check(pam, user, sshd, sink)
    finally:
        stop_notifyd(notifyd)
        sink.close()


def deliver_and_check(pam, user, sshd, sink):
    r = ssh(user.name, user.password)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "gatehouse-ok"
    evs = pam.events()
    assert sorted(e["type"] for e in evs) == ["login.new_host",
                                              "login.success"]
    nh = next(e for e in evs if e["type"] == "login.new_host")
    assert nh["user"] == user.name
    assert nh["title"].endswith("from 127.0.0.1")
    assert nh["metadata"]["service"] == "sshd"
    assert nh["metadata"]["network"] == "127.0.0.0/24"
    kh = pam.known_hosts()
    assert kh[(user.name, "127.0.0.0/24")]["count"] == 1

    # notifyd delivers what sshd's login raised
    end = time.monotonic() + 30
    while time.monotonic() < end:
        got = [json.loads(q["body"]) for q in sink.got("/hook", ok_only=True)]
        if {b["type"] for b in got} >= {"login.new_host", "login.success"}:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("notifyd delivered only " + repr(
            sink.got("/hook")) + (pam.tmp / "notifyd.log").read_text()[-3000:])
    hooked = next(b for b in got if b["type"] == "login.new_host")
    assert hooked["id"] == nh["id"]
    assert hooked["user"] == user.name
    assert hooked["category"] == "security"
    assert hooked["title"].endswith("from 127.0.0.1")

    # the second login from the same network is known
    r = ssh(user.name, user.password)
    assert r.returncode == 0, r.stderr
    evs = pam.events()
    assert [e["type"] for e in evs].count("login.new_host") == 1
    assert [e["type"] for e in evs].count("login.success") == 2
    assert pam.known_hosts()[(user.name, "127.0.0.0/24")]["count"] == 2
    # the login itself only started the writer (which logs to syslog)
    assert "user %s from 127.0.0.1: handed to the writer" % user.name in \
        sshd.log.read_text()


def test_ssh_wrong_passwords_one_burst(pam, user, sshd):
    for _ in range(5):
        r = ssh(user.name, "wrong-" + user.password)
        assert r.returncode != 0
        assert "gatehouse-ok" not in r.stdout
    evs = pam.events()
    assert [e["type"] for e in evs] == ["login.failed_burst"]
    md = evs[0]["metadata"]
    assert evs[0]["user"] == user.name
    assert md["scope"] == "user+address"
    assert md["addr"] == "127.0.0.1"
    assert md["service"] == "sshd"
    assert md["user_failures"] == 3
    rate = {r["key"]: r["value"] for r in pam.dump("rate")}
    assert set(rate) == {"pam:fail-user:" + user.name,
                         "pam:fail-addr:127.0.0.1"}
    # the right password still works, and is not counted
    r = ssh(user.name, user.password)
    assert r.returncode == 0, r.stderr
    assert {r["key"]: r["value"] for r in pam.dump("rate")} == rate


@pytest.mark.parametrize("sshd", ["mode=child"], indirect=True)
def test_ssh_login_while_store_is_locked(pam, user, sshd):
    holder = subprocess.Popen([str(STORETOOL), "hold", str(pam.store)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = ssh(user.name, user.password)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "gatehouse-ok"
        r = ssh(user.name, "wrong")
        assert r.returncode != 0
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert pam.events() == []
    log = sshd.log.read_text()
    assert f"login of {user.name} not recorded (write, ELOCKED)" in log
    # with the holder gone, logins are recorded again
    r = ssh(user.name, user.password)
    assert r.returncode == 0, r.stderr
    assert [e["type"] for e in pam.events()] == ["login.success"]


@pytest.mark.parametrize("sshd", ["writer_timeout_ms=20000"], indirect=True)
def test_ssh_login_while_store_is_locked_detached(pam, user, sshd):
    """The default mode: the login does not wait for the store at all; its
    writer waits for the lock (up to writer_timeout_ms) and records the
    login once the holder lets go -- nothing is lost."""
    holder = subprocess.Popen([str(STORETOOL), "hold", str(pam.store)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = ssh(user.name, user.password, wait=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "gatehouse-ok"
        assert writers(), "no writer is waiting for the lock"
        assert pam.events() == []
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    wait_writers()
    assert [e["type"] for e in pam.events()] == ["login.success"]


def test_shipped_samples_with_sshd(pam, user):
    """conf/pam.d/sshd works as written in a real sshd (with the machine's
    common-* files included): sessions are recorded once each, wrong
    passwords make one burst."""
    pam.init_store()
    install_samples(pam)
    s = Sshd(pam, user.name)
    try:
        r = ssh(user.name, user.password)
        assert r.returncode == 0, r.stderr + s.log.read_text()[-3000:]
        assert r.stdout.strip() == "gatehouse-ok"
        for _ in range(3):
            assert ssh(user.name, "nope").returncode != 0
        r = ssh(user.name, user.password)
        assert r.returncode == 0, r.stderr
    finally:
        s.stop()
    assert sorted(e["type"] for e in pam.events()) == \
        ["login.failed_burst", "login.sshd", "login.sshd"]


def test_shipped_common_auth_and_session(pam, user):
    """conf/pam.d/common-auth: the right password passes and is not
    counted, wrong ones fail as before and are counted.
    conf/pam.d/common-session records the session."""
    pam.init_store()
    install_samples(pam, with_common_session=True)
    ok = pam.drv("common-auth", user.name, rhost="192.0.2.1", ops="auth",
                 password=user.password)
    assert ok["threads"][0]["rc"] == [[0]]
    assert pam.dump("rate") == []
    bad = pam.drv("common-auth", user.name, rhost="192.0.2.1", ops="auth",
                  password="nope", repeat=4)
    assert bad["threads"][0]["rc"] == [[7]] * 4       # PAM_AUTH_ERR
    assert [e["type"] for e in pam.events()] == ["login.failed_burst"]
    sess = pam.drv("common-session", user.name, rhost="192.0.2.1")
    assert sess["threads"][0]["rc"] == [[0, 0]]
    assert [e["type"] for e in pam.events()] == ["login.failed_burst",
                                                 "login.common_session"]
