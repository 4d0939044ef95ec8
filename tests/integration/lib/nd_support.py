"""Helpers for gatehouse-notifyd's integration tests (conftest.py makes
them fixtures).

Every test gets a fresh store, local receivers (nd_sinks.py) and a helper that
writes gatehouse.conf, starts the daemon and stops it again -- with
SIGKILL at the end whatever happened, so no process outlives its test.

The daemon under test is build/asan/tests/gatehouse-notifyd-test: the same
code as the installed one with the injectable clock compiled in, so quiet
hours and digests are tested by writing a time into a file rather than by
sleeping (clock.h), and built with ASan and UBSan, so every test doubles as
a memory-error check (a sanitizer report in its log fails the test).
NOTIFYD_BIN chooses another build (build/tests/gatehouse-notifyd-test is
the same without sanitizers).
"""
import os
import pathlib
import signal
import subprocess
import time

from ghtest import Gatehouse, free_port, wait_until  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
NOTIFYD = pathlib.Path(os.environ.get("NOTIFYD_BIN") or
                       BUILD / "asan" / "tests" / "gatehouse-notifyd-test")
if not NOTIFYD.is_absolute():
    NOTIFYD = ROOT / NOTIFYD
TEMPLATES = ROOT / "conf" / "templates"


class Env:
    """A store, a configuration and at most one running notifyd."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.store = tmp_path / "store"
        self.conf = tmp_path / "gatehouse.conf"
        self.clock = tmp_path / "clock"
        self.log = tmp_path / "notifyd.log"
        self.proc = None
        self.metrics_port = None
        self.write_conf("")
        self.gh("store", "init")

    # -- configuration --
    def write_conf(self, extra, notifyd="", queue="visibility = 10s\n",
                   templates=None, metrics=False, sync="no", shipped=None):
        """templates: the admin's directory ([notifyd] templates);
        shipped: the shipped one (shipped_templates).  Neither by default,
        so no test reads what `make install` put on this machine."""
        if metrics and self.metrics_port is None:
            self.metrics_port = free_port()
        tdir = templates if templates is not None else self.tmp / "no-templates"
        sdir = shipped if shipped is not None else self.tmp / "no-shipped"
        text = (f"[store]\npath = {self.store}\nsync = {sync}\n"
                f"lock_timeout = 10s\n\n[queue]\n{queue}\n"
                f"[notifyd]\nlog = stderr\nlog_level = debug\n"
                f"poll_interval = 50ms\nshutdown_timeout = 10s\n"
                f"templates = {tdir}\nshipped_templates = {sdir}\n")
        if metrics:
            text += f"metrics_listen = 127.0.0.1:{self.metrics_port}\n"
        text += notifyd + "\n" + extra
        self.conf.write_text(text)

    # -- the gatehouse command --
    def gh(self, *args, check=True, json_out=False):
        return Gatehouse(self.conf).run(*args, check=check, json_out=json_out)

    def notify(self, user, title="Hello", type_="app.notice", *extra):
        out = self.gh("notify", user, "--type", type_, "--title", title,
                      *extra, json_out=True)
        return out["id"]

    def event(self, eid):
        return self.gh("events", "show", eid, json_out=True)

    def deliveries(self, eid):
        return {(d["channel"], d["recipient"]): d
                for d in self.event(eid)["deliveries"]}

    def state(self, eid):
        return self.event(eid)["q"]["state"]

    def wait_state(self, eid, states=("done",), timeout=30):
        return wait_until(lambda: self.state(eid) in states, timeout,
                          f"event {eid} to be {states} "
                          f"(log: {self.log_tail()})")

    # -- the clock --
    def set_clock(self, ms):
        tmp = self.clock.with_suffix(".tmp")
        tmp.write_text(str(int(ms)))
        os.replace(tmp, self.clock)

    # -- the daemon --
    def start(self, clock=None, env=None):
        assert self.proc is None
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        if clock is not None:
            self.set_clock(clock)
            e["GATEHOUSE_TEST_CLOCK"] = str(self.clock)
        if env:
            e.update(env)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([str(NOTIFYD), "-c", str(self.conf)],
                                     stdout=self.logf, stderr=self.logf,
                                     env=e)
        if self.metrics_port:
            wait_until(self._metrics_up, 10, "the metrics port")
        return self.proc

    def _metrics_up(self):
        import socket
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", self.metrics_port))
            return True
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError(f"notifyd exited: {self.log_tail()}")
            return False
        finally:
            s.close()

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.logf.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=15):
        return "\n".join(self.log_text().splitlines()[-n:])

    def metrics(self):
        import urllib.request
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out
