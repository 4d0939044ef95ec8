"""The writer program (gatehouse-pam-writer): in modes detach and child the
module's child becomes the store's owner and execs it, so the code that
reads a store its owner may have crafted holds nothing of the host's
memory.  Proven on a store owned by nobody (a root-owned store is written
by the child itself: only root could have shaped it).

- the writer runs the writer binary, as the owner, with an empty
  environment, no mapping of the host's binary or of the module, and none
  of the host's memory (a marker in the host's environment is not in it);
- a writer binary that is not root's, is group- or world-writable, or is a
  link, is refused; a missing one too: the login goes on, the log line
  names the stage and the reason;
- the program itself refuses root and bad records.
"""
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import time
import uuid

import pytest

from gh_pam_support import (MODULE, PAMDRV, STORETOOL, WRITER, rcs,
                            wait_writers, writers)

NOCLOSE = PAMDRV.parent / "noclose"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to chown the store")


@pytest.fixture
def owned(pam):
    """The test's store, owned by nobody (the pam fixture's default as
    root), and the directory it is in, for the test's own files."""
    assert pam.owner is not None and pam.owner.pw_name == "nobody"
    pam.init_store()
    return pam.base


def memory_has(pid, needle):
    """Whether needle is anywhere in the readable memory of pid."""
    found = False
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if "r" not in line.split()[1] or "[vsyscall]" in line:
                continue
            try:
                mem.seek(lo)
                if needle in mem.read(hi - lo):
                    found = True
            except (OSError, ValueError, OverflowError):
                continue
    return found


def test_writer_has_a_fresh_address_space(pam, owned):
    """A detached writer waiting for the store's lock: it is the writer
    binary (exe), runs as the store's owner with an empty environment,
    maps neither the host (pamdrv) nor the module, and a marker placed in
    the host's memory (its environment) is nowhere in its memory."""
    marker = f"gh-host-secret-{uuid.uuid4().hex}"
    svc = pam.session_service(args="notify=always writer_timeout_ms=20000")
    holder = subprocess.Popen([str(STORETOOL), "hold", str(pam.store)],
                              stdout=subprocess.PIPE, text=True)
    control = None
    try:
        assert holder.stdout.readline().strip() == "held"
        env = dict(os.environ, GH_TEST_MARKER=marker)
        p = subprocess.run([str(PAMDRV), "--confdir", str(pam.confdir),
                            "--service", svc, "--user", "wendy",
                            "--rhost", "192.0.2.44"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        pids = writers()
        assert len(pids) == 1, pids
        pid = pids[0]
        # (the login returns once the writer is forked: give it its exec)
        for _ in range(500):
            if os.readlink(f"/proc/{pid}/exe") == str(WRITER):
                break
            time.sleep(0.01)
        assert os.readlink(f"/proc/{pid}/exe") == str(WRITER)
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
        assert int(uid.group(1)) == int(uid.group(2)) == \
            pwd.getpwnam("nobody").pw_uid
        assert pathlib.Path(f"/proc/{pid}/environ").read_bytes() == b""
        maps = pathlib.Path(f"/proc/{pid}/maps").read_text()
        assert str(WRITER) in maps
        assert str(PAMDRV) not in maps and str(MODULE) not in maps
        assert not memory_has(pid, marker.encode())
        # the scan itself finds a marker where one is: a process started
        # with it in its environment
        control = subprocess.Popen(["sleep", "30"], env=env)
        assert memory_has(control.pid, marker.encode())
    finally:
        if control is not None:
            control.kill()
            control.wait()
        holder.kill()
        holder.wait()
        holder.stdout.close()
    wait_writers()
    assert [(e["type"], e["user"]) for e in pam.events()] == [
        ("login.success", "wendy")]


def test_child_writer_has_no_terminal_no_cwd_no_host_fds(pam, owned,
                                                        tmp_path):
    """mode=child, the host on a terminal (its controlling tty, as login,
    su or sudo are) in a directory of its own, with a file of its own open:
    the writer (held on the store's lock) is in a session of its own with
    no controlling terminal, works in /, holds none of the host's
    descriptors, and is not dumpable (its /proc files are root's, so the
    store's owner cannot ptrace it or read its memory)."""
    import fcntl
    import termios
    svc = pam.session_service(args="mode=child notify=always "
                              "timeout_ms=8000")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    secret = private / "host-only"
    secret.write_text("the host's\n")
    master, slave = os.openpty()
    holder = subprocess.Popen([str(STORETOOL), "hold", str(pam.store)],
                              stdout=subprocess.PIPE, text=True)
    host = None
    try:
        assert holder.stdout.readline().strip() == "held"
        with open(secret) as kept:
            def tty():
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            host = subprocess.Popen(
                [str(PAMDRV), "--confdir", str(pam.confdir), "--service",
                 svc, "--user", "tess", "--rhost", "192.0.2.45"],
                stdin=slave, stdout=slave, stderr=slave, cwd=private,
                start_new_session=True, preexec_fn=tty,
                pass_fds=(kept.fileno(),))
        pid = None
        for _ in range(500):
            for w in writers():
                try:
                    if os.readlink(f"/proc/{w}/exe") == str(WRITER):
                        pid = w
                except OSError:
                    pass
            if pid:
                break
            time.sleep(0.01)
        assert pid, "no writer seen"
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        session, tty_nr = int(fields[3]), int(fields[4])
        assert tty_nr == 0, "the writer has a controlling terminal"
        assert session != host.pid and session != os.getsid(0)
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        held = [os.readlink(f"/proc/{pid}/fd/{fd}")
                for fd in os.listdir(f"/proc/{pid}/fd")]
        assert str(secret) not in held, held
        assert not any(h.startswith("/dev/pts") for h in held), held
        assert os.stat(f"/proc/{pid}/mem").st_uid == 0   # not dumpable
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        if host is not None:
            assert host.wait(timeout=30) == 0
        os.close(master)
        os.close(slave)
    assert [(e["type"], e["user"]) for e in pam.events()] == [
        ("login.success", "tess")]


def test_host_descriptors_closed_without_close_range(pam, owned, tmp_path):
    """Where close_range fails (a kernel before 5.9, a seccomp filter that
    does not know it: build/.../noclose), the child still closes every
    descriptor of the host's, through /proc/self/fd, before the writer
    runs as the store's owner: a file of the host's that the owner may not
    read is not among the writer's descriptors."""
    svc = pam.session_service(args="mode=child notify=always "
                              "timeout_ms=8000")
    secret = tmp_path / "host-only"
    secret.write_text("the host's\n")
    os.chmod(secret, 0o600)
    holder = subprocess.Popen([str(STORETOOL), "hold", str(pam.store)],
                              stdout=subprocess.PIPE, text=True)
    host = None
    try:
        assert holder.stdout.readline().strip() == "held"
        with open(secret) as kept:
            host = subprocess.Popen(
                [str(NOCLOSE), str(PAMDRV), "--confdir", str(pam.confdir),
                 "--service", svc, "--user", "una", "--rhost",
                 "192.0.2.46"], pass_fds=(kept.fileno(),),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pid = None
        for _ in range(500):
            for w in writers():
                try:
                    if os.readlink(f"/proc/{w}/exe") == str(WRITER):
                        pid = w
                except OSError:
                    pass
            if pid:
                break
            time.sleep(0.01)
        assert pid, "no writer seen"
        held = [os.readlink(f"/proc/{pid}/fd/{fd}")
                for fd in os.listdir(f"/proc/{pid}/fd")]
        assert str(secret) not in held, held
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        if host is not None:
            out, err = host.communicate(timeout=30)
            assert host.returncode == 0, err
    assert [(e["type"], e["user"]) for e in pam.events()] == [
        ("login.success", "una")]


def logged(pam, svc, user="liam"):
    """A mode=child login through pamtester (pam_wrapper shows what the
    module logs); its return code and its log lines."""
    p = pam.pamtester(svc, user, "open_session", "close_session",
                      items=["rhost=192.0.2.77"], debuglevel=2)
    return p, [line for line in p.stderr.splitlines() if "SYSLOG(" in line]


def test_writer_binary_checked_before_it_runs(pam, owned):
    """The writer runs only if it is a regular file of root's that only
    root can write, reached through directories only root can change;
    otherwise the login goes on, unrecorded, and the one warning says
    which stage (writer) and why."""
    w = owned / "bin" / "gatehouse-pam-writer"
    w.parent.mkdir()
    shutil.copy2(WRITER, w)
    os.chmod(w, 0o755)

    def svc(path, name):
        return pam.session_service(name, args=f"mode=child notify=always "
                                   f"writer={path}")
    p, logs = logged(pam, svc(w, "ok"))
    assert p.returncode == 0 and logs == [], p.stderr
    assert len(pam.events()) == 1           # the copy works as it is

    cases = [
        ("gw", lambda: os.chmod(w, 0o775),
         "writable by group or others (mode 0775), refused"),
        ("ow", lambda: os.chmod(w, 0o757),
         "writable by group or others (mode 0757), refused"),
        ("own", lambda: (os.chmod(w, 0o755), os.chown(w, 65534, 65534)),
         "owned by uid 65534, not root, refused"),
    ]
    for name, spoil, why in cases:
        spoil()
        p, logs = logged(pam, svc(w, name))
        assert p.returncode == 0, p.stderr
        assert "successfully opened a session" in p.stdout
        assert len(logs) == 1, logs
        assert "SYSLOG(4)" in logs[0]
        assert "login of liam not recorded (writer, EACCES)" in logs[0]
        assert f"{w}: {why}" in logs[0], logs[0]
    os.chown(w, 0, 0)
    assert len(pam.events()) == 1           # none of these wrote
    # a link made in a directory only root can change is root's own
    # choice: followed, as in a store's path
    link = owned / "bin" / "link"
    link.symlink_to(WRITER)
    p, logs = logged(pam, svc(link, "lnk"))
    assert p.returncode == 0 and logs == [], logs
    assert len(pam.events()) == 2
    # a directory on the way that another uid can change: refused,
    # whatever the file's own owner and mode say (it could swap the file
    # or the name for a link to any root-owned program)
    os.chown(w.parent, 65534, 65534)
    try:
        for path in (w, link):
            p, logs = logged(pam, svc(path, "dir"))
            assert p.returncode == 0, p.stderr
            assert len(logs) == 1, logs
            assert "(writer, EACCES)" in logs[0], logs[0]
            assert f"{w.parent}: owned by uid 65534" in logs[0], logs[0]
    finally:
        os.chown(w.parent, 0, 0)
    assert len(pam.events()) == 2


@pytest.mark.parametrize("mode", ["child", "detach"])
def test_missing_writer(pam, owned, mode):
    """No writer program: the login succeeds, nothing is written, and (in
    mode=child, where the host hears of it) the warning names it."""
    gone = owned / "nowhere" / "gatehouse-pam-writer"
    svc = pam.session_service(args=f"mode={mode} notify=always "
                              f"writer={gone}")
    if mode == "child":
        p, logs = logged(pam, svc)
        assert p.returncode == 0, p.stderr
        assert len(logs) == 1, logs
        assert "login of liam not recorded (writer, ENOTFOUND)" in logs[0]
        assert f"{gone}: No such file or directory" in logs[0]
    else:
        assert rcs(pam.drv(svc, "liam", rhost="192.0.2.7")) == [[0, 0]]
    assert pam.events() == []


def run_writer(data, user="nobody", args=()):
    pw = pwd.getpwnam(user)
    kw = {} if user == "root" else dict(user=pw.pw_uid, group=pw.pw_gid,
                                        extra_groups=[])
    return subprocess.run([str(WRITER)] + list(args), input=data,
                          capture_output=True, timeout=30, env={}, **kw)


def test_writer_program_refuses_root_and_bad_records():
    p = run_writer(b"{}", user="root")
    assert p.returncode == 77                         # EX_NOPERM
    assert b"refusing to run as root" in p.stderr
    assert run_writer(b"", args=["--bogus"]).returncode == 64
    assert b"usage:" in run_writer(b"", args=["--help"]).stdout
    for data, why in ((b"", b"not JSON"), (b"[1]", b"v missing"),
                      (b"{\"v\": 2}", b"v missing"),
                      (b"x" * 20000, b"longer than 16384"),
                      (b"{\"v\": 1, \"job\": \"rm\"}", b"job missing")):
        p = run_writer(data)
        assert p.returncode == 65, (data[:20], p)   # EX_DATAERR
        line = p.stdout.decode()
        assert line.startswith("GHW1 E") and line.endswith("\n"), line
        assert why in p.stderr, p.stderr


def test_writer_without_an_answer(pam, owned):
    """A writer that exits without answering (here /bin/false, root's and
    0755, so it passes the checks): the login goes on and the warning
    gives its exit status."""
    false = pathlib.Path(shutil.which("false")).resolve()
    svc = pam.session_service(args=f"mode=child writer={false}")
    p, logs = logged(pam, svc)
    assert p.returncode == 0, p.stderr
    assert len(logs) == 1, logs
    assert "not recorded (child, EIO)" in logs[0]
    assert "ended without an answer (exit status 1)" in logs[0], logs[0]
    assert pam.events() == []
