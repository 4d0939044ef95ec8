"""The milter's pid file is written by the milter's user but read by root
(`gatehouse dkim rotate`): root must signal only the real milter, the process
holding the milter's lock on the file, never a pid someone wrote into it.

The stand-in victim is a small Python process that records every signal it
gets (so a SIGHUP leaves a trace instead of killing it); after each command
the test sends it SIGUSR2 as a marker and waits for it, so any signal sent
before (lower numbered, SIGHUP included) has been recorded by then.
"""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import mailenv
from mailenv import DOMAIN

RECORDER = textwrap.dedent("""
    import fcntl, signal, sys, time
    log = open(sys.argv[1], "a", buffering=1)
    def note(sig, frame):
        log.write(f"{signal.Signals(sig).name}\\n")
    for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM,
              signal.SIGINT):
        signal.signal(s, note)
    if len(sys.argv) > 2:
        # a classic fcntl lock, like the milter's
        held = open(sys.argv[2], "r+")
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("ready", flush=True)
    while True:
        time.sleep(60)
""")


class Recorder:
    def __init__(self, base, lock=None):
        self.log = base / f"signals-{len(list(base.glob('signals-*')))}"
        self.log.write_text("")
        args = [sys.executable, "-c", RECORDER, str(self.log)]
        if lock is not None:
            args.append(str(lock))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid

    def signals(self):
        """Every signal received so far (after a SIGUSR2 marker)."""
        n = self.log.read_text().count("SIGUSR2")
        os.kill(self.pid, signal.SIGUSR2)
        mailenv.wait_for(lambda: self.log.read_text().count("SIGUSR2") > n,
                         10, "the recorder's marker")
        got = self.log.read_text().split()
        return [s for s in got if s != "SIGUSR2"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def recorders(milter_factory):
    made = []
    yield made
    for r in made:
        r.stop()


def rotate(m):
    return m.gh("dkim", "rotate", "--domain", DOMAIN, "--grace", "1h",
                check=False)


def test_rotate_ignores_a_pid_written_by_someone_else(milter_factory,
                                                      recorders):
    m = milter_factory(start=False)
    victim = Recorder(m.base)
    recorders.append(victim)
    # the milter is not running; its pid file names an unrelated process
    m.pidfile.write_text(f"{victim.pid}\n")
    p = rotate(m)
    assert p.returncode == 0, p.stderr
    assert "not running" in p.stdout and "lock" in p.stdout
    assert "told to reload" not in p.stdout
    assert victim.signals() == []
    assert victim.proc.poll() is None

    # the unrelated process even holds a lock on the file: it is not
    # gatehouse-milter, so it is still not signalled
    holder = Recorder(m.base, lock=m.pidfile)
    recorders.append(holder)
    m.pidfile.write_text(f"{victim.pid}\n")
    p = rotate(m)
    assert p.returncode == 65, (p.returncode, p.stdout, p.stderr)
    assert "not signalled" in p.stderr
    assert f"pid {holder.pid}" in p.stderr and "not gatehouse-milter" in p.stderr
    assert "told to reload" not in p.stdout
    assert victim.signals() == [] and holder.signals() == []


def test_rotate_signals_the_lock_holder_not_the_contents(milter_factory,
                                                         recorders):
    m = milter_factory()
    victim = Recorder(m.base)
    recorders.append(victim)
    # the milter's user rewrites the file the milter holds locked
    with open(m.pidfile, "r+") as f:
        f.truncate(0)
        f.write(f"{victim.pid}\n")
    p = rotate(m)
    assert p.returncode == 0, p.stderr
    assert f"gatehouse-milter (pid {m.proc.pid}) told to reload" in p.stdout
    assert f"says pid {victim.pid}, but pid {m.proc.pid} holds" in p.stderr
    mailenv.wait_for(lambda: "reloaded: configuration 2" in m.log(), 20,
                     "the milter to reload")
    assert victim.signals() == []


def test_symlinked_pid_file_is_refused(milter_factory, recorders):
    m = milter_factory()
    # rotate: a pid file that is a symbolic link, even to the running
    # milter's own locked pid file, is not followed
    link = m.base / "link.pid"
    link.symlink_to(m.pidfile)
    m.write_conf(milter={"pid_file": str(link)})
    p = rotate(m)
    assert p.returncode == 65, (p.returncode, p.stdout, p.stderr)
    assert "symbolic link" in p.stderr and "not signalled" in p.stderr
    assert "told to reload" not in p.stdout
    assert m.stop() == 0
    assert "SIGHUP" not in m.log()

    # the milter: never writes through a symbolic link
    precious = m.base / "precious"
    precious.write_text("keep me\n")
    link.unlink()
    link.symlink_to(precious)
    p = subprocess.run([str(mailenv.MILTER), "-f", "-c", str(m.conf)],
                       env=m.env(), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    assert "symbolic link" in p.stderr, p.stderr
    assert precious.read_text() == "keep me\n"


def test_milter_refuses_a_pid_file_it_does_not_own(milter_factory):
    m = milter_factory(start=False)
    m.pidfile.write_text("1\n")
    os.chown(m.pidfile, 65534, 65534)      # nobody; we run as root
    p = subprocess.run([str(mailenv.MILTER), "-f", "-c", str(m.conf)],
                       env=m.env(), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    assert "owned by uid 65534" in p.stderr, p.stderr
    assert m.pidfile.read_text() == "1\n"
