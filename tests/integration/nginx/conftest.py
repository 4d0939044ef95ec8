"""Fixtures for the nginx module's integration tests.

Debian's own nginx binary (package nginx) is started with its own prefix
directory under /tmp, its own configuration on 127.0.0.1 and free high
ports, and `load_module` of build/nginx/ngx_http_gatehouse_module.so
(`make` builds it).  It runs in the foreground (daemon off) under the
fixture, with a master and one worker, and is stopped at teardown.
"""
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

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODULE = ROOT / "build" / "nginx" / "ngx_http_gatehouse_module.so"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WORKER_USER = "nobody"

BASE_CONF = """\
load_module {module};
daemon off;
master_process on;
worker_processes 1;
{user}
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
{http}
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{port2} http2;
{server}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        self.root = os.geteuid() == 0
        if self.root:
            pw = pwd.getpwnam(WORKER_USER)
            os.chown(self.uploads, pw.pw_uid, pw.pw_gid)
        self.conf = self.prefix / "conf" / "nginx.conf"
        self.port = free_port()
        self.port2 = free_port()
        self.proc = None

    def write(self, server="", http=""):
        user = f"user {WORKER_USER} nogroup;" if self.root else ""
        self.conf.write_text(BASE_CONF.format(
            module=MODULE, prefix=self.prefix, user=user, port=self.port,
            port2=self.port2, server=server, http=http))

    def test(self):
        """nginx -t on the written configuration."""
        return subprocess.run([NGINX, "-t", "-q", "-p", str(self.prefix),
                               "-c", str(self.conf)],
                              capture_output=True, text=True, timeout=30)

    def start(self):
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
        """Every stored file, as paths relative to the upload directory."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.uploads):
            if ".incoming" in dirnames:
                dirnames.remove(".incoming")
            for f in filenames:
                out.append(os.path.relpath(os.path.join(dirpath, f),
                                           self.uploads))
        return sorted(out)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def nginx_conf():
    """An Nginx whose configuration the test writes and checks with -t."""
    n = Nginx()
    yield n
    n.cleanup()


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
"""


@pytest.fixture(scope="module")
def nginx():
    """A running nginx with upload locations (see UPLOAD_SERVER)."""
    n = Nginx()
    n.write(server=UPLOAD_SERVER.format(uploads=n.uploads))
    try:
        n.start()
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    # a worker that crashed or leaked shows up here
    for bad in ("[alert]", "[emerg]", "exited on signal", "[crit]"):
        assert bad not in log, f"{bad} in error log:\n{log[-4000:]}"


def json_body(resp_body):
    return json.loads(resp_body.decode() if isinstance(resp_body, bytes)
                      else resp_body)
