"""The web face's world for the inbox tests: the split layout of
docs/security.md for real -- a core store owned by ghsec-core with
gatehouse-notifyd, a web store owned by ghsec-web with its
gatehouse-bridge, and Debian's nginx whose workers run as ghsec-web with
the module -- or, with split=False, one store for everything (the web
domain shares the core's: nginx then runs as the core's owner).

The users are the security suite's (tests/integration/lib/secenv.py); they are
made when missing and left for that suite, which removes them.
"""
import http.client
import json
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import secenv
from ghtest import free_port, wait_until
from ngx_support import MODULE, NGINX

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "inbox"

NGINX_CONF = """\
load_module {module};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {nofile};
thread_pool default threads=2;
user {user} {user};
error_log {prefix}/logs/error.log info;
pid {prefix}/logs/nginx.pid;
events {{ worker_connections {conns}; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{ text/html html; application/javascript js; }}
    gatehouse_conf {ghconf};
    server {{
        listen 127.0.0.1:{port};
        # the application's authentication would name the user; here a
        # header (the API tests) or a cookie (the browser) stands in
        location /api/notifications {{
            gatehouse_user $http_x_user$cookie_gh_user;
            gatehouse_inbox{streams};
        }}
        location /inbox/ {{
            alias {example}/;
        }}
    }}
}}
"""


class InboxWorld:
    def __init__(self, split=True, conns=256, streams=""):
        secenv.make_users()
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="gh-inbox-"))
        self.split = split
        self.sec = secenv.SecEnv(self.base,
                                 domains=("web",) if split else ())
        self.sec.init()
        self.prefix = self.base / "nginx"
        for d in ("logs", "tmp"):
            (self.prefix / d).mkdir(parents=True)
        os.chmod(self.prefix, 0o755)
        self.port = free_port()
        self.user = secenv.USERS["web" if split else "core"]
        (self.prefix / "nginx.conf").write_text(NGINX_CONF.format(
            module=MODULE, prefix=self.prefix, user=self.user,
            conns=conns, nofile=max(1024, conns * 2), ghconf=self.sec.conf, port=self.port,
            example=EXAMPLE, streams=streams))
        self.nginx = None

    def start(self, notifyd=True):
        """notifyd=False: it is running already."""
        if self.split:
            if notifyd:
                self.sec.start_notifyd()
            self.sec.start_bridge("web")
        else:
            # no bridge socket without domain stores: wait for its log
            self.sec.start("notifyd", [secenv.NOTIFYD, "-c", self.sec.conf,
                                       "--stderr"])
            wait_until(lambda: self.sec.log("notifyd").strip(), 20,
                       "notifyd to start")
        self.nginx = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c",
             str(self.prefix / "nginx.conf")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise AssertionError("nginx exited: " +
                                     self.nginx.stderr.read())
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start")

    def error_log(self):
        p = self.prefix / "logs" / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def close(self):
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(15)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        self.sec.close()
        if not os.environ.get("GH_KEEP"):
            shutil.rmtree(self.base, ignore_errors=True)

    # ---- the core's side ----
    def notify(self, user, title, *extra):
        """gatehouse notify USER --channel inbox, as the admin (root, who
        becomes the core store's owner)."""
        out = self.sec.gh("notify", user, "--channel", "inbox", "--title",
                          title, *extra, json_out=True)
        return int(out["id"])

    def core_inbox(self, user):
        return self.sec.gh("inbox", "list", user, json_out=True)

    def wait_delivered(self, user, eid, timeout=30):
        """The item is in the core's inbox and, split, in the web copy
        (what nginx lists)."""
        wait_until(lambda: any(int(i.get("event", i.get("id", 0))) == eid
                               for i in self.core_inbox(user)),
                   timeout, f"item {eid} in {user}'s core inbox")
        wait_until(lambda: any(n["id"] == eid for n in
                               self.get(user, "")[1]["notifications"]),
                   timeout, f"item {eid} served by nginx")

    # ---- HTTP ----
    def request(self, method, path, user=None, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if user is not None:
            h["X-User"] = user
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else \
                json.dumps(body)
            h["Content-Type"] = "application/json"
        c.request(method, "/api/notifications" + path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = raw
        return r.status, j

    def get(self, user, path, **kw):
        return self.request("GET", path, user, **kw)


class Stream:
    """A raw SSE client: reads events as they arrive."""

    def __init__(self, port, user, last_event_id=None, path="/stream"):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        h = (f"GET /api/notifications{path} HTTP/1.1\r\nHost: x\r\n"
             f"X-User: {user}\r\nAccept: text/event-stream\r\n")
        if last_event_id is not None:
            h += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall((h + "\r\n").encode())
        self.buf = b""
        self.status = None
        self.headers = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill(10)
        self.headers, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(self.headers.split()[1])
        self.chunked = b"chunked" in self.headers.lower()
        self.raw = b""

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("stream closed")
        self.buf += d

    def _dechunk(self):
        """Move whole chunks from buf to raw."""
        if not self.chunked:
            self.raw += self.buf
            self.buf = b""
            return
        while b"\r\n" in self.buf:
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.raw += rest[:size]
            self.buf = rest[size + 2:]

    def event(self, timeout=10):
        """The next event (dict of its fields, data parsed), skipping
        comments; None on time-out."""
        deadline = time.monotonic() + timeout
        while True:
            self._dechunk()
            while b"\n\n" in self.raw:
                block, self.raw = self.raw.split(b"\n\n", 1)
                ev = {}
                for line in block.decode().split("\n"):
                    if not line or line.startswith(":"):
                        continue
                    k, _, v = line.partition(":")
                    ev[k] = v[1:] if v.startswith(" ") else v
                if "data" in ev:
                    ev["data"] = json.loads(ev["data"])
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self._fill(left)
            except socket.timeout:
                return None

    def close(self):
        self.sock.close()
