"""Debian's real clamd (package clamav-daemon), started by a test with a
configuration of its own: a unix socket and a signature directory in a
temporary directory, in the foreground, no freshclam.  clamd refuses to
start without signatures, so the caller writes a database first."""
import gzip
import hashlib
import io
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tarfile
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


def write_daily(directory, version, sigs):
    """A "daily" database with a version, as freshclam's has: an unsigned
    CVD (daily.cud, which libclamav loads without Talos's signature) whose
    header carries the version that clamd's VERSION reports.  sigs:
    {name: bytes to match anywhere}.  Replaces the previous one."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ndb = "".join(f"{n}:0:*:{b.hex()}\n" for n, b in sigs.items()).encode()
    now = int(time.time())
    head = (f"ClamAV-VDB:{time.strftime('%d %b %Y %H-%M +0000', time.gmtime(now))}"
            f":{version}:{len(sigs)}:90:{'0' * 32}:X:gatehouse:{now}")
    info = (f"{head}\ndaily.ndb:{len(ndb)}:"
            f"{hashlib.sha256(ndb).hexdigest()}\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w",
                      format=tarfile.USTAR_FORMAT) as t:
        for name, data in (("daily.info", info), ("daily.ndb", ndb)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    body = gzip.compress(buf.getvalue())
    head = head.replace("0" * 32, hashlib.md5(body).hexdigest())
    tmp = directory / ".daily.cud.tmp"
    tmp.write_bytes(head.encode().ljust(512, b" ") + body)
    os.rename(tmp, directory / "daily.cud")
    os.chmod(directory, 0o755)
    return directory


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

    def reload(self, version):
        """RELOAD, and wait until VERSION names the daily version."""
        ask(self.sock, b"RELOAD")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if f"/{version}/" in ask(self.sock, b"VERSION", timeout=2):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"clamd did not load daily {version}")

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
