"""Small HTTP and multipart helpers for the nginx module's tests.

Bodies are built by hand (not by an HTTP library) so tests can send
exactly the bytes they mean: odd filenames, broken delimiters, partial
bodies.
"""
import hashlib
import json
import socket
import struct
import subprocess
import zlib

BOUNDARY = "----gatehouse-test-7MA4YWxkTrZu0gW"


def png_bytes(pad=0):
    """A valid 1x1 PNG, optionally followed by pad junk bytes."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    png = (b"\x89PNG\r\n\x1a\n" +
           chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) +
           chunk(b"IEND", b""))
    return png + bytes((i * 7 + 3) & 0xff for i in range(pad))


PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n"
       b"<< /Root 1 0 R >>\n%%EOF\n")


def part(name, content=b"", filename=None, ctype=None, disposition=None,
         extra_headers=b""):
    """One part: headers and content, without delimiters."""
    if disposition is None:
        disposition = f'form-data; name="{name}"'.encode()
        if filename is not None:
            fn = filename.encode() if isinstance(filename, str) else filename
            disposition += b'; filename="' + fn + b'"'
    head = b"Content-Disposition: " + disposition + b"\r\n"
    if ctype:
        head += b"Content-Type: " + ctype.encode() + b"\r\n"
    return head + extra_headers + b"\r\n" + content


def multipart(parts, boundary=BOUNDARY, close=True):
    b = boundary.encode()
    body = b"".join(b"--" + b + b"\r\n" + p + b"\r\n" for p in parts)
    if close:
        body += b"--" + b + b"--\r\n"
    return body


def ctype(boundary=BOUNDARY):
    return f"multipart/form-data; boundary={boundary}"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


def read_response(sock):
    """Read one HTTP/1.1 response (Content-Length framed) from sock."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before headers: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Response(status, headers, rest[:length])


def request_head(path, ctype_value, length=None, chunked=False, extra=()):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    if ctype_value is not None:
        lines.append(f"Content-Type: {ctype_value}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(port, path, body, ctype_value=None, extra=(), method="POST"):
    """Send a whole request on a new connection; return the response.
    Errors while sending (the server may answer and close early) are
    ignored: the response is what counts."""
    if ctype_value is None:
        ctype_value = ctype()
    head = request_head(path, ctype_value, len(body), extra=extra)
    if method != "POST":
        head = head.replace(b"POST", method.encode(), 1)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(s)


def post_chunked(port, path, body, chunk=1000, extra=()):
    head = request_head(path, ctype(), chunked=True, extra=extra)
    out = bytearray(head)
    for i in range(0, len(body), chunk):
        piece = body[i:i + chunk]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(bytes(out))
        return read_response(s)


def curl_h2(port, path, *form):
    """POST with curl over HTTP/2 (prior knowledge); form: -F values."""
    args = ["curl", "-sS", "--http2-prior-knowledge", "-o", "-",
            "-w", "\n%{http_code} %{http_version}"]
    for f in form:
        args += ["-F", f]
    args.append(f"http://127.0.0.1:{port}{path}")
    p = subprocess.run(args, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body, _, tail = p.stdout.rpartition(b"\n")
    code, version = tail.decode().split()
    return int(code), version, body


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def h2_post(port, path, body, ctype_value=None, timeout=30):
    """POST body over HTTP/2 (prior knowledge) with python3-h2, sending
    as flow control allows and stopping when the server answers early
    (as it does with 413: the response, then RST_STREAM NO_ERROR, which
    curl 7.88 sometimes reports as an error).  Returns (status, body)."""
    import h2.config
    import h2.connection
    import h2.events

    if ctype_value is None:
        ctype_value = ctype()
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":path", path),
                            (":scheme", "http"), (":authority", "127.0.0.1"),
                            ("content-type", ctype_value),
                            ("content-length", str(len(body)))])
    status, data, sent, done = None, b"", 0, False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(conn.data_to_send())
        while not done:
            # send what the windows allow, unless the server has answered
            while sent < len(body) and status is None:
                n = min(conn.local_flow_control_window(sid),
                        conn.max_outbound_frame_size, len(body) - sent)
                if n <= 0:
                    break
                conn.send_data(sid, body[sent:sent + n],
                               end_stream=(sent + n == len(body)))
                sent += n
            out = conn.data_to_send()
            if out:
                try:
                    s.sendall(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            chunk = s.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded,
                                     h2.events.StreamReset)):
                    done = True
    return status, data
