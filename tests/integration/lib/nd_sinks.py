"""Local receivers for gatehouse-notifyd's integration tests.

HttpSink   a threaded http.server on 127.0.0.1 that records every request
           and can be told, per path prefix, to fail (any status, with
           Retry-After), fail a share of requests at random, fail the first
           N, delay, or drop the connection without answering.  Given a
           certificate and key it serves https; it counts the connections
           it accepted, answered or not.
SmtpSink   an aiosmtpd server that records every message and can refuse
           recipients (5xx or 4xx), with optional AUTH and STARTTLS.

Both run in threads of the test process and bind port 0, so they never
collide with anything else and vanish with the test.
"""
import http.server
import random
import socket
import ssl
import threading
import time

from ghtest import free_port  # noqa: F401

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Rule:
    def __init__(self, mode="ok", status=200, ratio=1.0, times=None, delay=0.0,
                 retry_after=None, seed=None, body=b"ok"):
        self.mode = mode
        self.status = status
        self.ratio = ratio
        self.times = times
        self.delay = delay
        self.retry_after = retry_after
        self.rng = random.Random(seed)
        self.body = body
        self.seen = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        sink = self.server.sink
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        rule = sink.rule_for(self.path)
        with sink.lock:
            rule.seen += 1
            seen = rule.seen
            fail = False
            if rule.mode == "fail":
                if rule.times is not None:
                    fail = seen <= rule.times
                else:
                    fail = rule.rng.random() < rule.ratio
            status = rule.status if fail else 200
            rec = {"path": self.path, "method": self.command,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": body, "status": status, "time": time.time()}
            if rule.mode == "drop":
                rec["status"] = None
            sink.requests.append(rec)
        if rule.mode == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rule.mode == "delay" and rule.delay:
            time.sleep(rule.delay)
        out = rule.body if status < 300 else b'{"error":"sink says no"}'
        self.send_response(status)
        if fail and rule.retry_after is not None:
            self.send_header("Retry-After", str(rule.retry_after))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = _serve
    do_PUT = _serve
    do_GET = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        conn, addr = super().get_request()
        with self.sink.lock:
            self.sink.connections += 1
        return conn, addr

    def finish_request(self, request, client_address):
        # the TLS handshake in the connection's own thread, so a client
        # that stalls in it holds up nobody else
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        conn = self.tls.wrap_socket(request, server_side=True)
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request, client_address):
        pass   # a client killed mid-request (the crash test) is expected


class HttpSink:
    def __init__(self, tls=None):
        """tls: (certificate file, key file) to serve https."""
        self.lock = threading.Lock()
        self.requests = []
        self.rules = {}
        self.connections = 0
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.sink = self
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.tls = ctx
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/", host="127.0.0.1"):
        return f"{self.scheme}://{host}:{self.port}{path}"

    def set(self, prefix, mode="ok", **kw):
        with self.lock:
            self.rules[prefix] = Rule(mode, **kw)

    def rule_for(self, path):
        best = None
        for prefix in self.rules:
            if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        return self.rules[best] if best is not None else Rule()

    def got(self, prefix="/", ok_only=False):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)
                    and (not ok_only or (r["status"] is not None and r["status"] < 300))]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _SmtpHandler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for pattern, reply in self.sink.refuse.items():
            if pattern in address:
                with self.sink.lock:
                    self.sink.refused.append(address)
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.messages.append({
                "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                "data": envelope.content, "auth": session.auth_data,
                "tls": session.ssl is not None, "time": time.time()})
        return "250 Message accepted"




class SmtpSink:
    def __init__(self, auth=None, tls_context=None, require_starttls=False,
                 implicit_tls=None):
        self.lock = threading.Lock()
        self.messages = []
        self.refused = []
        self.refuse = {}
        self.port = free_port()
        kw = {}
        if auth:
            user, password = auth

            def authenticator(server, session, envelope, mechanism, data):
                ok = (isinstance(data, LoginPassword) and
                      data.login.decode() == user and
                      data.password.decode() == password)
                return AuthResult(success=ok, auth_data=data.login.decode() if ok else None)
            kw.update(authenticator=authenticator, auth_require_tls=False)
        if tls_context is not None:
            kw.update(tls_context=tls_context, require_starttls=require_starttls)
        if implicit_tls is not None:
            kw.update(ssl_context=implicit_tls)
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1",
                                     port=self.port, ready_timeout=10, **kw)
        self.controller.start()

    def url(self, scheme="smtp"):
        return f"{scheme}://127.0.0.1:{self.port}"

    def got(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        self.controller.stop()
