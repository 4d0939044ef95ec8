#!/usr/bin/python3
"""Fast local receivers for bench/notify: an HTTP/1.1 keep-alive sink and a
minimal SMTP sink on one asyncio loop, in their own process.

Both are written against raw asyncio protocols (no http.server, no
aiosmtpd) so that the receiver costs a few microseconds per request and
is not what the benchmark measures; `run` reports the sink's CPU time
beside each figure, and checks the HTTP sink alone with wrk when wrk is
installed.

For every request or message it counts one delivery and, when the body
carries the event's created_at (notifyd's webhook JSON, or the
X-Gatehouse-Event header of its mail, looked up in the created map the
runner gives), records the lag from enqueue to receipt; from the
producer's commit instead when the webhook JSON has metadata.commit_ms
(bench_enqueue sets it; bench/notify/cluster).

  GET  /stats   {"http": n, "smtp": n, "lags_ms": [...], "first": s,
                 "last": s}  (first and last webhook receipt, epoch s)
  POST /reset   zero the counters
Prints "HTTP_PORT SMTP_PORT" on stdout once listening.
"""
import asyncio
import json
import re
import sys
import time

STATS = {"http": 0, "smtp": 0, "lags": [], "first": 0.0, "last": 0.0}
OK = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
      b"Content-Type: text/plain\r\n\r\nok")
CREATED = re.compile(rb'"created_at":(\d+)')
COMMIT = re.compile(rb'"commit_ms":(\d+)')


def reply(body, ctype=b"application/json"):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\nContent-Type: " + ctype + b"\r\n\r\n" + body)


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end]
            clen = 0
            p = head.lower().find(b"content-length:")
            if p >= 0:
                clen = int(head[p + 15:head.find(b"\r\n", p) if
                                head.find(b"\r\n", p) > 0 else None])
            if len(self.buf) < end + 4 + clen:
                break
            body = self.buf[end + 4:end + 4 + clen]
            self.buf = self.buf[end + 4 + clen:]
            line = head[:head.find(b"\r\n")] if b"\r\n" in head else head
            if line.startswith(b"GET /stats"):
                out.append(reply(json.dumps({
                    "http": STATS["http"], "smtp": STATS["smtp"],
                    "lags_ms": STATS["lags"], "first": STATS["first"],
                    "last": STATS["last"]}).encode()))
                continue
            if line.startswith(b"POST /reset"):
                STATS.update(http=0, smtp=0, lags=[], first=0.0, last=0.0)
                out.append(OK)
                continue
            STATS["http"] += 1
            now = time.time()
            if not STATS["first"]:
                STATS["first"] = now
            STATS["last"] = now
            m = COMMIT.search(body) or CREATED.search(body)
            if m:
                STATS["lags"].append(now * 1000 - int(m.group(1)))
            out.append(OK)
        if out:
            self.t.write(b"".join(out))


class Smtp(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""
        self.data = False
        self.t.write(b"220 bench ESMTP\r\n")

    def data_received(self, chunk):
        self.buf += chunk
        while True:
            if self.data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    return
                msg = self.buf[:end]
                self.buf = self.buf[end + 5:]
                self.data = False
                STATS["smtp"] += 1
                m = re.search(rb"X-Gatehouse-Created: (\d+)", msg)
                if m:
                    STATS["lags"].append(time.time() * 1000 - int(m.group(1)))
                self.t.write(b"250 2.0.0 queued\r\n")
                continue
            end = self.buf.find(b"\r\n")
            if end < 0:
                return
            line = self.buf[:end]
            self.buf = self.buf[end + 2:]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.t.write(b"250-bench\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.data = True
                self.t.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.t.write(b"221 bye\r\n")
                self.t.close()
                return
            else:
                self.t.write(b"250 OK\r\n")


async def main():
    loop = asyncio.get_running_loop()
    http = await loop.create_server(Http, "127.0.0.1", 0, backlog=1024)
    smtp = await loop.create_server(Smtp, "127.0.0.1", 0, backlog=1024)
    print(http.sockets[0].getsockname()[1], smtp.sockets[0].getsockname()[1],
          flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
