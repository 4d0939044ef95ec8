"""A few lines of the NATS client protocol, for tests that must publish
what no Gatehouse program would: a message with a chosen Nats-Msg-Id, a
body that is not JSON, a subject another domain's user may not use.
Connects with a user NKey (nkeys.py): the server's nonce signed with the
seed's Ed25519 key, base64url."""
import base64
import json
import socket

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _raw_seed(seed):
    s = seed + "=" * (-len(seed) % 8)
    return base64.b32decode(s)[2:34]


class RawNats:
    def __init__(self, port, seed, pub):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self._pending = []
        info = self.f.readline().decode()
        assert info.startswith("INFO "), info
        nonce = json.loads(info[5:])["nonce"]
        key = Ed25519PrivateKey.from_private_bytes(_raw_seed(seed))
        sig = base64.urlsafe_b64encode(key.sign(nonce.encode())).decode() \
            .rstrip("=")
        conn = {"verbose": False, "pedantic": False, "headers": True,
                "nkey": pub, "sig": sig, "protocol": 1}
        self.s.sendall(f"CONNECT {json.dumps(conn)}\r\nPING\r\n".encode())
        line = self.f.readline().decode()
        if not line.startswith("PONG"):
            raise PermissionError(line.strip())

    def publish(self, subject, body, msg_id=None, headers=None,
                reply=None):
        """Publish (with any headers: a dict); returns the server's answer
        to a PING after it: "PONG" or an -ERR (a permissions violation)."""
        if isinstance(body, str):
            body = body.encode()
        hdr = b"NATS/1.0\r\n"
        if msg_id:
            hdr += f"Nats-Msg-Id: {msg_id}\r\n".encode()
        for k, v in (headers or {}).items():
            hdr += f"{k}: {v}\r\n".encode()
        hdr += b"\r\n"
        rep = f" {reply}" if reply else ""
        self.s.sendall(f"HPUB {subject}{rep} {len(hdr)} "
                       f"{len(hdr) + len(body)}\r\n".encode() + hdr + body +
                       b"\r\nPING\r\n")
        while True:
            line = self.f.readline().decode().strip()
            if line.startswith(("PONG", "-ERR")):
                return line
            if line.startswith(("MSG ", "HMSG ")):
                # an answer may come before the PONG: kept for request()
                self._pending.append(self._payload(line))

    def _payload(self, line):
        """The payload of the MSG or HMSG whose control line is line."""
        parts = line.split()
        n = int(parts[-1])
        data = self.f.read(n + 2)[:n]
        if line.startswith("HMSG "):
            data = data[int(parts[-2]):]
        return data

    def request(self, subject, body, inbox, headers=None):
        """Publish with a reply subject under inbox (one this user may
        subscribe to) and return the first answer's payload (bytes), or
        the -ERR line (str) when the server refuses."""
        self._sid = getattr(self, "_sid", 0) + 1
        reply = f"{inbox}.r{self._sid}"
        self.s.sendall(f"SUB {reply} {self._sid}\r\n".encode())
        self._pending = []
        ans = self.publish(subject, body, headers=headers, reply=reply)
        if ans.startswith("-ERR"):
            return ans
        while not self._pending:
            line = self.f.readline().decode().strip()
            if line.startswith("-ERR"):
                return line
            if line.startswith(("MSG ", "HMSG ")):
                self._pending.append(self._payload(line))
        self.s.sendall(f"UNSUB {self._sid}\r\n".encode())
        return self._pending.pop(0)

    def request_json(self, subject, body, inbox):
        """request(), for the JetStream API: the answer as JSON; a
        PermissionError when the server refuses."""
        ans = self.request(subject, body, inbox)
        if isinstance(ans, str):
            raise PermissionError(ans)
        return json.loads(ans)

    def close(self):
        self.s.close()
