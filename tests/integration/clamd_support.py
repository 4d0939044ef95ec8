"""Debian's real clamd (package clamav-daemon), started by a test with a
configuration of its own: a unix socket and a signature directory in a
temporary directory, in the foreground, no freshclam.  clamd refuses to
start without signatures, so the caller writes a database first."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


def ask(sock, command, timeout=10):
    """clamd's reply to a z-command (without its NUL)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(b"z" + command + b"\0")
        out = b""
        while not out.endswith(b"\0"):
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    return out.rstrip(b"\0").decode(errors="replace")


class Clamd:
    def __init__(self, db, stream_max="1M", extra=""):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="gh-clamd-",
                                                 dir="/tmp"))
        # nginx's workers (nobody) and the milter reach the socket
        os.chmod(self.dir, 0o755)
        self.sock = self.dir / "clamd.ctl"
        self.db = pathlib.Path(db)
        self.conf = self.dir / "clamd.conf"
        self.log = self.dir / "clamd.log"
        self.conf.write_text(
            f"LocalSocket {self.sock}\n"
            "LocalSocketMode 666\n"
            f"DatabaseDirectory {self.db}\n"
            f"TemporaryDirectory {self.dir}\n"
            "Foreground yes\n"
            "User root\n"
            f"LogFile {self.log}\n"
            f"StreamMaxLength {stream_max}\n"
            "AlertExceedsMax yes\n"
            "AlertEncryptedArchive yes\n"
            "SelfCheck 1\n" + extra)
        self.proc = None

    def start(self, timeout=60):
        self.proc = subprocess.Popen([CLAMD, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("clamd exited: " +
                                     self.proc.stderr.read().decode())
            try:
                if ask(self.sock, b"PING", timeout=2) == "PONG":
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("clamd did not answer PING")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
