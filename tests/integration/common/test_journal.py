"""journald priorities: a daemon whose stderr is the journal's stream (systemd
says which in JOURNAL_STREAM, "DEVICE:INODE") starts each line with "<N>",
the syslog priority, so `journalctl -p err` finds its errors.  systemd is
played here by a file on fd 2 and JOURNAL_STREAM set to that file's device
and inode; the variable naming another file, or unset, means no prefixes.
"""
import os
import re
import signal
import subprocess
import time

import pytest

from ghtest import BUILD, Gatehouse, wait_until

NOTIFYD = BUILD / "asan" / "tests" / "gatehouse-notifyd-test"
MILTER = BUILD / "tests" / "gatehouse-milter-asan"
BRIDGE = BUILD / "gatehouse-bridge"

PREFIX = re.compile(r"^<[0-7]>")


class Daemon:
    """One run of a daemon with stderr in a file; journal says whether
    JOURNAL_STREAM names that file ("yes"), another one ("other") or is
    unset ("no")."""

    def __init__(self, tmp_path, cmd, journal):
        self.err = tmp_path / f"stderr-{time.monotonic_ns()}"
        self.err.touch()
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("NOTIFY_SOCKET", None)
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        if journal != "no":
            target = self.err
            if journal == "other":
                target = tmp_path / "elsewhere"
                target.touch()
            st = os.stat(target)
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        self.f = open(self.err, "ab")
        self.proc = subprocess.Popen([str(c) for c in cmd], env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.f)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.f.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def lines(self):
        return self.err.read_text(errors="replace").splitlines()

    def wait_for(self, text, timeout=30):
        wait_until(lambda: any(text in ln for ln in self.lines()) or
                   self.proc.poll() is not None, timeout, text)
        assert any(text in ln for ln in self.lines()), self.lines()


def no_prefixes(lines):
    assert lines
    assert not any(PREFIX.match(ln) for ln in lines), lines


@pytest.fixture
def conf(tmp_path):
    c = tmp_path / "gatehouse.conf"
    c.write_text(f"[store]\npath = {tmp_path / 'store'}\n"
                 f"mail = {tmp_path / 'mail'}\nsync = no\n\n"
                 # -t as root checks as [milter] user, which this host
                 # need not have: run as the test's user
                 f"[milter]\nuser =\n\n"
                 f"[notifyd]\nbridge_socket = {tmp_path / 'bridge.sock'}\n"
                 f"poll_interval = 50ms\n"
                 f"templates = {tmp_path / 'no-templates'}\n"
                 f"shipped_templates = {tmp_path / 'no-shipped'}\n")
    Gatehouse(c).run("store", "init")
    return c


def test_notifyd(tmp_path, conf):
    # log = auto (the default) takes stderr when it is the journal
    d = Daemon(tmp_path, [NOTIFYD, "-c", conf], "yes")
    d.wait_for("started")
    assert d.stop() == 0
    lines = d.lines()
    assert all(PREFIX.match(ln) for ln in lines), lines
    assert any(ln.startswith("<6>started: store ") for ln in lines), lines
    assert any(ln.startswith("<4>warning: no shipped templates")
               for ln in lines), lines
    assert any(ln.startswith("<6>stopped") for ln in lines), lines
    # an error is "<3>" (here: the configuration refused, exit 78)
    bad = tmp_path / "bad.conf"
    bad.write_text(conf.read_text() + "default_channels = nosuch\n")
    d = Daemon(tmp_path, [NOTIFYD, "-c", bad], "yes")
    assert d.wait() == 78
    assert any(ln.startswith("<3>error: ") and "nosuch" in ln
               for ln in d.lines()), d.lines()
    # not the journal: the plain lines
    for journal in ("no", "other"):
        d = Daemon(tmp_path, [NOTIFYD, "-c", bad, "--stderr"], journal)
        assert d.wait() == 78
        no_prefixes(d.lines())
        assert d.lines()[-1].startswith("gatehouse-notifyd[")


def test_milter(tmp_path, conf):
    d = Daemon(tmp_path, [MILTER, "-t", "-c", conf], "yes")
    assert d.wait() == 0
    assert any(ln.startswith("<6>info: checked configuration")
               for ln in d.lines()), d.lines()
    # a start-up error before the logger is open is an error too
    d = Daemon(tmp_path, [MILTER, "-f", "-c", tmp_path / "none.conf"], "yes")
    assert d.wait() != 0
    assert d.lines()[0].startswith("<3>gatehouse-milter: "), d.lines()
    for journal in ("no", "other"):
        d = Daemon(tmp_path, [MILTER, "-t", "-c", conf], journal)
        assert d.wait() == 0
        no_prefixes(d.lines())


def test_bridge(tmp_path, conf):
    # notifyd is not there: the bridge says so (a warning) and keeps trying
    d = Daemon(tmp_path, [BRIDGE, "-c", conf, "mail"], "yes")
    d.wait_for("cannot reach gatehouse-notifyd")
    assert d.stop() == 0
    lines = d.lines()
    assert lines[0].startswith("<6>gatehouse-bridge[mail]: started for ")
    assert lines[1].startswith("<4>gatehouse-bridge[mail]: cannot reach ")
    assert lines[-1] == "<6>gatehouse-bridge[mail]: stopped"
    d = Daemon(tmp_path, [BRIDGE, "-c", conf, "web"], "yes")
    assert d.wait() == 78
    assert d.lines() == ["<3>gatehouse-bridge[web]: [store] web is not set: "
                         "this domain writes the core's store itself, and "
                         "needs no bridge"]
    for journal in ("no", "other"):
        d = Daemon(tmp_path, [BRIDGE, "-c", conf, "web"], journal)
        assert d.wait() == 78
        no_prefixes(d.lines())
