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

    def publish(self, subject, body, msg_id=None):
        """Publish; returns the server's answer to a PING after it: "PONG"
        or an -ERR (a permissions violation)."""
        if isinstance(body, str):
            body = body.encode()
        hdr = b"NATS/1.0\r\n"
        if msg_id:
            hdr += f"Nats-Msg-Id: {msg_id}\r\n".encode()
        hdr += b"\r\n"
        self.s.sendall(f"HPUB {subject} {len(hdr)} {len(hdr) + len(body)}"
                       f"\r\n".encode() + hdr + body + b"\r\nPING\r\n")
        while True:
            line = self.f.readline().decode().strip()
            if line.startswith(("PONG", "-ERR")):
                return line

    def request(self, subject, body, inbox):
        """A request (the JetStream API): the first reply, to inbox (a
        subject this user may subscribe to), as JSON."""
        if isinstance(body, str):
            body = body.encode()
        self.s.sendall(f"SUB {inbox} 1\r\nPUB {subject} {inbox} "
                       f"{len(body)}\r\n".encode() + body + b"\r\n")
        while True:
            line = self.f.readline().decode().strip()
            if line.startswith("PING"):
                self.s.sendall(b"PONG\r\n")
            elif line.startswith("-ERR"):
                raise PermissionError(line)
            elif line.startswith("MSG "):
                data = self.f.read(int(line.split()[-1]) + 2)[:-2]
                self.s.sendall(b"UNSUB 1\r\n")
                return json.loads(data)

    def close(self):
        self.s.close()
