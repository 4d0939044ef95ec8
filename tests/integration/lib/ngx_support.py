"""Fixtures for the nginx module's integration tests.

Debian's own nginx binary (package nginx) is started with its own prefix
directory under /tmp, its own configuration on 127.0.0.1 and free high
ports, and `load_module` of build/nginx/ngx_http_gatehouse_module.so
(`make` builds it).  It runs in the foreground (daemon off) under the
fixture, with a master and one worker, and is stopped at teardown.

Each prefix has its own gatehouse.conf (conf/gatehouse.conf) naming a
store in PREFIX/store (owned by the worker user, which creates it), which
the tests read back with build/gatehouse.
"""
import hashlib
import json
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from ghtest import free_port, wait_until  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODULE = ROOT / "build" / "nginx" / "ngx_http_gatehouse_module.so"
GH = ROOT / "build" / "gatehouse"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WORKER_USER = "nobody"

BASE_CONF = """\
load_module {module};
daemon off;
master_process on;
worker_processes 1;
thread_pool default threads=4;
{user}
{main}
error_log {prefix}/logs/error.log info;
pid {prefix}/logs/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    client_max_body_size 0;
{image_defaults}{http}
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{port2} http2;
{server}
    }}
}}
"""


def wait_for(cond, what, timeout=15):
    """cond()'s first true value within timeout seconds."""
    return wait_until(cond, timeout, what)


class Nginx:
    """One nginx prefix directory, its configuration and its process."""

    def __init__(self):
        if not MODULE.exists():
            pytest.fail(f"{MODULE} is missing: run make first")
        self.prefix = pathlib.Path(tempfile.mkdtemp(prefix="gh-nginx-",
                                                    dir="/tmp"))
        # workers run as nobody: they must reach the upload directory
        os.chmod(self.prefix, 0o755)
        for d in ("logs", "tmp", "conf"):
            (self.prefix / d).mkdir()
        self.uploads = self.prefix / "uploads"
        self.uploads.mkdir()
        self.store = self.prefix / "store"
        self.store.mkdir()
        self.root = os.geteuid() == 0
        if self.root:
            pw = pwd.getpwnam(WORKER_USER)
            os.chown(self.uploads, pw.pw_uid, pw.pw_gid)
            os.chown(self.store, pw.pw_uid, pw.pw_gid)
        self.ghconf = self.prefix / "conf" / "gatehouse.conf"
        self.write_ghconf()
        self.conf = self.prefix / "conf" / "nginx.conf"
        self.port = free_port()
        self.port2 = free_port()
        self.proc = None
        self.started = False
        self.log_allow = ()
        # The upload tests compare stored bytes with what they sent (tiny
        # PNGs with junk after IEND): images are re-encoded by default, so
        # they run with the step off.  test_nginx_images.py sets "" to
        # get the module's own defaults.
        self.image_defaults = "    gatehouse_image_strip off;\n"

    def write_ghconf(self, extra=""):
        self.ghconf.write_text(
            f"[store]\npath = {self.store}\nsync = no\n{extra}")

    def write(self, server="", http="", main=""):
        user = f"user {WORKER_USER} nogroup;" if self.root else ""
        self.conf.write_text(BASE_CONF.format(
            module=MODULE, prefix=self.prefix, user=user, port=self.port,
            port2=self.port2, server=server, http=http, main=main,
            image_defaults=self.image_defaults))

    def gh(self, *args, check=True):
        """build/gatehouse with this prefix's gatehouse.conf."""
        p = subprocess.run([str(GH), "-c", str(self.ghconf), *args],
                           capture_output=True, text=True, timeout=30)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    def records(self):
        """Every upload record in the store, newest first."""
        return json.loads(self.gh("--json", "uploads", "list",
                                  "--limit", "0").stdout)

    def record(self, upload_id):
        return json.loads(self.gh("--json", "uploads", "show",
                                  str(upload_id)).stdout)

    def test(self):
        """nginx -t on the written configuration."""
        return subprocess.run([NGINX, "-t", "-q", "-p", str(self.prefix),
                               "-c", str(self.conf)],
                              capture_output=True, text=True, timeout=30)

    def start(self):
        self.started = True
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"nginx exited {self.proc.returncode}: "
                                     f"{err}{out}")
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start listening")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def error_log(self):
        p = self.prefix / "logs" / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def incoming(self):
        """Temp files left in the upload directory's .incoming."""
        d = self.uploads / ".incoming"
        return sorted(os.listdir(d)) if d.exists() else []

    def stored(self):
        """Every stored file, as paths relative to the upload directory
        (temp files and the quarantine left out)."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.uploads):
            for skip in (".incoming", ".quarantine"):
                if skip in dirnames:
                    dirnames.remove(skip)
            for f in filenames:
                out.append(os.path.relpath(os.path.join(dirpath, f),
                                           self.uploads))
        return sorted(out)

    def quarantined(self):
        d = self.uploads / ".quarantine"
        return sorted(os.listdir(d)) if d.exists() else []

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


UPLOAD_SERVER = """\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 256k;
            gatehouse_upload_max_files 3;
            gatehouse_upload_user $http_x_user;
        }}
        location = /upload/custom {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_category images png;
            gatehouse_upload_category notes txt md mime=text/plain;
        }}
        location = /upload/unlimited {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 0;
        }}
        location = /plain {{
            return 200 "plain\\n";
        }}
        location /uploads/status/ {{
            gatehouse_upload_status;
            gatehouse_upload_user $http_x_user;
        }}
"""


def check_log(log, allow=()):
    """A worker that crashed or leaked shows up here.  Lines holding one
    of the allow strings are ones the test provoked."""
    lines = [ln for ln in log.splitlines()
             if not any(a in ln for a in allow)]
    log = "\n".join(lines)
    for bad in ("[alert]", "[emerg]", "exited on signal", "[crit]"):
        assert bad not in log, f"{bad} in error log:\n{log[-4000:]}"


EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-"
         b"FILE!$H+H*")
TESTFILES = pathlib.Path("/usr/share/clamav-testfiles")


def make_clamav_db(directory):
    """A tiny signature database, made now (nothing can be downloaded):
    an .ndb body signature matching the EICAR test string anywhere, and
    an .hdb hash signature of clamav-testfiles' clam.exe, which every
    clam.* test file (zip, 7z, pdf, doc, ...) carries inside."""
    directory = pathlib.Path(directory)
    directory.mkdir(exist_ok=True)
    (directory / "gatehouse-test.ndb").write_text(
        f"Gatehouse.Test.EICAR:0:*:{EICAR.hex()}\n")
    exe = (TESTFILES / "clam.exe").read_bytes()
    (directory / "gatehouse-test.hdb").write_text(
        f"{hashlib.md5(exe).hexdigest()}:{len(exe)}:"
        f"Gatehouse.Test.ClamAV-Test-File\n")
    os.chmod(directory, 0o755)
    return directory


def json_body(resp_body):
    return json.loads(resp_body.decode() if isinstance(resp_body, bytes)
                      else resp_body)


class Backend:
    """A small application on 127.0.0.1 that records every request it
    receives (gatehouse_upload_pass tests) and answers 200 with JSON."""

    def __init__(self):
        import http.server
        import threading

        self.received = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                backend.received.append((self.command, self.path,
                                         dict(self.headers.items()), body))
                out = json.dumps({"app": "received",
                                  "n": len(backend.received)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def parse_form(headers, body):
    """The parts of a multipart/form-data body, in order: a list of
    (name, content-type or None, value bytes)."""
    import email.parser
    import email.policy

    ct = {k.lower(): v for k, v in headers.items()}["content-type"]
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ct.encode() + b"\r\n\r\n" + body)
    out = []
    for p in msg.iter_parts():
        name = p.get_param("name", header="content-disposition")
        ctype = p["content-type"]
        out.append((name, str(ctype) if ctype else None,
                    p.get_payload(decode=True)))
    return out
