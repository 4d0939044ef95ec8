"""Uploads through Debian's nginx with the Gatehouse module: accepted files
land under the upload directory with the right content and digest; wrong
types, hostile names, oversized and malformed bodies get a JSON 4xx, and no
temp file is ever left behind."""
import io
import json
import os
import pwd
import re
import socket
import stat
import time
import zipfile

import pytest

from ngx_support import wait_for  # noqa: F401
from gh_http import (BOUNDARY, PDF, ctype, curl_h2, h2_post, multipart,
                     part, png_bytes, post, post_chunked, read_response,
                     request_head, sha256)


@pytest.fixture(autouse=True)
def no_temp_files_left(nginx):
    yield
    # every request below has finished: nothing may stay in .incoming
    assert nginx.incoming() == []


def stored_file(nginx, answer):
    path = nginx.uploads / answer["url"].lstrip("/")
    assert path.is_file(), answer
    return path


def check_stored(nginx, answer, content):
    path = stored_file(nginx, answer)
    assert path.read_bytes() == content
    assert answer["sha256"] == sha256(content)
    assert answer["size"] == len(content)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) & 0o007 == 0     # not world-readable
    if os.geteuid() == 0:
        assert st.st_uid == pwd.getpwnam("nobody").pw_uid
    return path


def zip_bytes(size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("data.bin", os.urandom(size))
    return buf.getvalue()


# ---- accepted ---------------------------------------------------------------

def test_png_accepted(nginx):
    png = png_bytes()
    body = multipart([part("title", b"holiday"),
                      part("file", png, "photo.PNG", "image/png")])
    r = post(nginx.port, "/upload", body, extra=["X-User: alice"])
    assert r.status == 201, r
    assert r.headers["content-type"] == "application/json"
    a = r.json()
    assert a["filename"] == "photo.png"
    assert a["field"] == "file"
    assert a["mime"] == "image/png"
    assert a["category"] == "images"
    assert a["status"] == "stored"
    assert a["scan"] == "not_scanned"
    assert a["user"] == "alice"
    assert isinstance(a["id"], int) and a["id"] > 0
    assert re.fullmatch(r"/images/\d{4}/\d\d/\d\d/[0-9a-f]{32}\.png",
                        a["url"]), a["url"]
    assert a["files"] == [{k: v for k, v in a.items() if k != "files"}]
    path = check_stored(nginx, a, png)
    # and the store has its record
    rec = nginx.record(a["id"])
    assert rec["status"] == "stored" and rec["reason"] is None
    assert rec["user"] == "alice"
    assert rec["display_name"] == "photo.png"
    assert rec["original_name"] == "photo.PNG"     # as the client sent it
    assert a["original_filename"] == "photo.PNG"
    assert rec["field"] == "file"
    assert rec["sha256"] == sha256(png) and rec["size"] == len(png)
    assert rec["mime"] == "image/png" and rec["category"] == "images"
    assert rec["stored_name"] == str(path)
    assert rec["url"] == a["url"]
    assert rec["client_addr"] == "127.0.0.1"
    assert rec["uri"] == "/upload"
    assert rec["created_at"] <= rec["updated_at"]


def test_several_files_and_fields(nginx):
    png, pdf = png_bytes(100), PDF
    body = multipart([part("a", png, "one.png"), part("note", b"x" * 5000),
                      part("b", pdf, "two.pdf"), part("c", b"", "")])
    r = post(nginx.port, "/upload", body)
    assert r.status == 201, r
    files = r.json()["files"]
    assert [f["filename"] for f in files] == ["one.png", "two.pdf"]
    assert [f["category"] for f in files] == ["images", "documents"]
    assert files[1]["mime"] == "application/pdf"
    check_stored(nginx, files[0], png)
    check_stored(nginx, files[1], pdf)


def test_large_file_streams_without_buffering(nginx):
    """5 MB in many reads: content and digest exact, and nginx kept no
    copy of the body (client_body_temp stays empty)."""
    z = zip_bytes(5 * 1024 * 1024)
    r = post(nginx.port, "/upload/unlimited",
             multipart([part("file", z, "big.zip")]))
    assert r.status == 201, r
    a = r.json()
    assert a["mime"] == "application/zip"
    check_stored(nginx, a, z)
    body_temp = nginx.prefix / "tmp" / "body"
    assert not body_temp.exists() or os.listdir(body_temp) == []


def test_chunked_request_body(nginx):
    png = png_bytes(70000)
    r = post_chunked(nginx.port, "/upload",
                     multipart([part("file", png, "c.png")]), chunk=777)
    assert r.status == 201, r
    check_stored(nginx, r.json(), png)


def test_http2(nginx, tmp_path):
    f = tmp_path / "h2.png"
    f.write_bytes(png_bytes(50000))
    code, version, body = curl_h2(nginx.port2, "/upload", f"file=@{f}")
    assert (code, version) == (201, "2"), body
    a = json.loads(body)
    check_stored(nginx, a, f.read_bytes())

    # large enough for many DATA frames and flow-control windows
    z = tmp_path / "big.zip"
    z.write_bytes(zip_bytes(3 * 1024 * 1024))
    code, version, body = curl_h2(nginx.port2, "/upload/unlimited",
                                  f"file=@{z}")
    assert (code, version) == (201, "2"), body
    check_stored(nginx, json.loads(body), z.read_bytes())
    # over the limit: 413 on the stream, body not read to its end (with
    # python3-h2: curl 7.88 may report the RST_STREAM NO_ERROR that
    # follows the answer as an error)
    code, body = h2_post(nginx.port2, "/upload",
                         multipart([part("file", z.read_bytes(), "big.zip")]))
    assert code == 413, body
    assert json.loads(body)["error"] == "file_too_large"

    g = tmp_path / "doc.pdf"
    g.write_bytes(PDF)
    code, version, body = curl_h2(nginx.port2, "/upload",
                                  f"file=@{g};filename=fake.png")
    assert code == 415
    assert json.loads(body)["error"] == "type_mismatch"


def test_false_boundaries_in_content(nginx):
    """Lines starting with "--", prefixes of the boundary, and the whole
    boundary followed by other characters are file content, not
    delimiters."""
    b = BOUNDARY.encode()
    text = (b"-----BEGIN CERTIFICATE-----\r\nMIIBkTCB+wIJAKH\r\n"
            b"-----END CERTIFICATE-----\r\n--\r\n--" + b[:10] + b"\r\n--" +
            b + b"X\r\n--" + b + b"-not-the-end\r\n--" + b + b" \tx\r\n"
            b"--" + b + b"\rtrailing CR\r\nlast line\r\n")
    r = post(nginx.port, "/upload/custom",
             multipart([part("f", text, "cert.txt")]))
    assert r.status == 201, r
    a = r.json()
    assert a["category"] == "notes"
    check_stored(nginx, a, text)


# ---- refused by type or name ----------------------------------------------

def test_pdf_named_png_refused(nginx):
    r = post(nginx.port, "/upload", multipart([part("f", PDF, "cv.png")]))
    assert r.status == 415, r
    a = r.json()
    assert a["error"] == "type_mismatch"
    assert a["expected_category"] == "images"
    assert a["detected_type"] == "application/pdf"
    assert a["filename"] == "cv.png"


def test_extension_not_allowed(nginx):
    r = post(nginx.port, "/upload",
             multipart([part("f", b"MZ\x90\x00", "setup.exe")]))
    assert r.status == 415, r
    a = r.json()
    assert a["error"] == "extension_not_allowed"
    assert a["extension"] == "exe"
    assert "png" in a["allowed"] and "exe" not in a["allowed"]


def test_custom_categories_replace_defaults(nginx):
    r = post(nginx.port, "/upload/custom",
             multipart([part("f", PDF, "doc.pdf")]))
    assert r.status == 415 and r.json()["error"] == "extension_not_allowed"
    r = post(nginx.port, "/upload/custom",
             multipart([part("f", b"# title\n", "readme.MD")]))
    assert r.status == 201, r
    assert r.json()["filename"] == "readme.md"


@pytest.mark.parametrize("raw,want", [
    (b"../../etc/passwd.png", "passwd.png"),
    (b"C:\\Users\\bob\\evil.php.png", "evil_php.png"),
    (b".htaccess.png", "htaccess.png"),
    (b"a;rm -rf ~.png", "a_rm_-rf__.png"),
    (b"\xe2\x80\xaegnp.png", "gnp.png"),
    (b"\xff\xfe.png", "__.png"),
    (b"con.png", "_con.png"),
    (b"x" * 400 + b".png", "x" * 251 + ".png"),
])
def test_hostile_names_accepted_safely(nginx, raw, want):
    png = png_bytes()
    r = post(nginx.port, "/upload",
             multipart([part("file", png, raw)]))
    assert r.status == 201, r
    a = r.json()
    assert a["filename"] == want
    path = check_stored(nginx, a, png)
    # stored under a generated name inside the upload directory
    assert path.resolve().is_relative_to(nginx.uploads.resolve())
    assert re.fullmatch(r"[0-9a-f]{32}\.png", path.name)


@pytest.mark.parametrize("raw,display,original", [
    # a raw control byte in a quoted filename: accepted, cleaned (it was a
    # 400 bad_multipart before), kept escaped in the original
    (b"a\x01b\x1b[2J.png", "ab_2J.png", "a\\x01b\\x1b[2J.png"),
    (b"tab\there\x7f.png", "tabhere.png", "tab\\there\\x7f.png"),
    (b"../../etc/passwd.png", "passwd.png", "../../etc/passwd.png"),
    (b"C:\\Users\\bob\\x.png", "x.png", "C:\\\\Users\\\\bob\\\\x.png"),
    (b"\xff\xfe.png", "__.png", "\\xff\\xfe.png"),
    (b"\xe2\x80\xaegnp.png", "gnp.png", "\\u{202e}gnp.png"),
    ("фото.png".encode(), "фото.png", "фото.png"),
    (b"y" * 3000 + b".png", "y" * 251 + ".png",
     "y" * 1020 + "\\..."),
])
def test_hostile_names_keep_the_original_escaped(nginx, raw, display,
                                                 original):
    """The safe name is what the file is shown and checked as; what the
    client sent is kept beside it, escaped (valid UTF-8 as it is, control
    and invisible characters and bad bytes as escapes, at most 1 KiB), in
    the answer, the record and `gatehouse uploads show`."""
    png = png_bytes()
    r = post(nginx.port, "/upload", multipart([part("file", png, raw)]))
    assert r.status == 201, r
    a = r.json()
    assert a["filename"] == display
    assert a["original_filename"] == original
    assert a["files"][0]["original_filename"] == original
    check_stored(nginx, a, png)
    rec = nginx.record(a["id"])
    assert rec["v"] == 2
    assert rec["display_name"] == display
    assert rec["original_name"] == original
    out = nginx.gh("uploads", "show", str(a["id"])).stdout
    assert f"display_name   {display}\n" in out
    assert f"original_name  {original}\n" in out
    # nothing that could drive a terminal reaches it
    assert not any(c in out for c in "\x1b\x01\x7f\u202e")
    out = nginx.gh("uploads", "list", "--limit", "5").stdout
    assert any(line.split()[0] == str(a["id"]) and display[:28] in line
               for line in out.splitlines()[1:]), out


def test_control_byte_in_a_refused_upload(nginx):
    """A refusal names the file both ways too."""
    r = post(nginx.port, "/upload",
             multipart([part("file", PDF, b"cv\x01.png")]))
    assert r.status == 415, r
    assert r.json()["error"] == "type_mismatch"
    assert r.json()["filename"] == "cv.png"
    assert r.json()["original_filename"] == "cv\\x01.png"


@pytest.mark.parametrize("disp", [
    # CR or LF inside a header is framing, not a name: still refused
    b'form-data; name="file"; filename="a\rb.png"',
    b'form-data; name="file"; filename="a\nX-Injected: 1.png"',
    # control bytes outside a quoted filename
    b'form-data; name="fi\x01le"; filename="a.png"',
    b'form-data; name="file"; filename=a\x01b.png',
])
def test_control_bytes_outside_a_quoted_filename_refused(nginx, disp):
    r = post(nginx.port, "/upload",
             multipart([part("file", png_bytes(), disposition=disp)]))
    assert r.status == 400, r
    assert r.json()["error"] == "bad_multipart"


def test_filename_star_and_nul(nginx):
    png = png_bytes()
    disp = (b'form-data; name="f"; filename="ignored.exe"; '
            b"filename*=UTF-8''shell.php%00.png")
    r = post(nginx.port, "/upload",
             multipart([part("f", png, disposition=disp)]))
    assert r.status == 201, r
    assert r.json()["filename"] == "shell_php.png"

    disp = b"form-data; name=\"f\"; filename*=UTF-8''%E2%80%AEgpj.exe"
    r = post(nginx.port, "/upload",
             multipart([part("f", png, disposition=disp)]))
    assert r.status == 415, r
    assert r.json()["filename"] == "gpj.exe"


# ---- limits -----------------------------------------------------------------

def test_too_big_refused(nginx):
    r = post(nginx.port, "/upload",
             multipart([part("f", png_bytes(300 * 1024), "big.png")]))
    assert r.status == 413, r
    a = r.json()
    assert a["error"] == "file_too_large"
    assert a["max_size"] == 256 * 1024


def test_too_big_answered_before_body_ends(nginx):
    """The 413 comes while most of a declared 20 MB body is still unsent:
    if the module waited for the end, the read below would time out."""
    b = BOUNDARY.encode()
    first = (b"--" + b + b"\r\n" + part("f", png_bytes(300 * 1024), "x.png"))
    head = request_head("/upload", ctype(), 20 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=20) as s:
        s.sendall(head + first)
        r = read_response(s)
    assert r.status == 413, r
    assert r.json()["error"] == "file_too_large"
    assert r.headers.get("connection") == "close"


def test_too_many_files(nginx):
    parts = [part(f"f{i}", png_bytes(), f"{i}.png") for i in range(4)]
    r = post(nginx.port, "/upload", multipart(parts))
    assert r.status == 413, r
    assert r.json()["error"] == "too_many_files"
    assert r.json()["max_files"] == 3


def test_thousands_of_tiny_parts(nginx):
    parts = [part("p", b"x") for _ in range(3000)]
    r = post(nginx.port, "/upload", multipart(parts))
    assert r.status == 413, r
    assert r.json()["error"] == "too_many_parts"


def test_empty_file_refused(nginx):
    r = post(nginx.port, "/upload", multipart([part("f", b"", "e.png")]))
    assert r.status == 400, r
    assert r.json()["error"] == "empty_file"


def test_no_file(nginx):
    r = post(nginx.port, "/upload", multipart([part("title", b"x")]))
    assert r.status == 400, r
    assert r.json()["error"] == "no_file"


# ---- malformed requests -----------------------------------------------------

def test_not_multipart(nginx):
    r = post(nginx.port, "/upload", b"a=b",
             ctype_value="application/x-www-form-urlencoded")
    assert r.status == 415, r
    assert r.json()["error"] == "not_multipart"
    # the body was discarded and the connection stays usable
    assert r.headers.get("connection") == "keep-alive"


def test_method_not_allowed(nginx):
    r = post(nginx.port, "/upload", b"", method="PUT")
    assert r.status == 405, r
    assert r.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize("ct,body,status,error", [
    ("multipart/form-data", b"x", 400, "bad_boundary"),
    ("multipart/form-data; boundary=" + "b" * 71, b"x", 400, "bad_boundary"),
    ("multipart/form-data; boundary=a; boundary=b", b"x", 400,
     "bad_boundary"),
    (None, multipart([part("f", b"x", "a.png")], boundary="other"), 400,
     "bad_multipart"),
    (None, multipart([part("f", b"x", "a.png")], close=False)[:-2], 400,
     "truncated_body"),
    (None, multipart([part("f", b"x", "a.png",
                           extra_headers=b"X-Pad: " + b"p" * 9000 + b"\r\n")]),
     400, "part_headers_too_large"),
    (None, multipart([part("f", b"--z\r\n\r\nx\r\n--z--", "a.png",
                           ctype="multipart/mixed; boundary=z")]),
     415, "nested_multipart"),
    (None, multipart([part("f", b"aGVsbG8=", "a.png",
                           extra_headers=b"Content-Transfer-Encoding: "
                                         b"base64\r\n")]),
     415, "transfer_encoding"),
    (None, multipart([part("f", b"x", disposition=b"attachment; name=f")]),
     400, "bad_multipart"),
    (None, b"", 400, "bad_multipart"),
])
def test_malformed(nginx, ct, body, status, error):
    r = post(nginx.port, "/upload", body, ctype_value=ct)
    assert r.status == status, r
    assert r.json()["error"] == error


# ---- clients that go away ---------------------------------------------------

def test_disconnect_mid_file_leaves_nothing(nginx):
    b = BOUNDARY.encode()
    before = nginx.stored()
    first = b"--" + b + b"\r\n" + part("f", png_bytes(100 * 1024), "x.png")
    head = request_head("/upload", ctype(), 10 * 1024 * 1024)
    s = socket.create_connection(("127.0.0.1", nginx.port), timeout=20)
    s.sendall(head + first)
    # the part is being written to a temp file while the body arrives
    wait_for(lambda: len(nginx.incoming()) == 1, "the temp file")
    s.close()
    wait_for(lambda: nginx.incoming() == [], "the temp file to go")
    assert nginx.stored() == before
    # and the worker is fine
    r = post(nginx.port, "/upload", multipart([part("f", png_bytes(),
                                                    "ok.png")]))
    assert r.status == 201


def test_slow_client_times_out_cleanly(nginx_conf):
    n = nginx_conf
    n.write(server=f"""\
        location /upload {{
            client_body_timeout 1s;
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
""")
    n.start()
    b = BOUNDARY.encode()
    head = request_head("/upload", ctype(), 1000000)
    with socket.create_connection(("127.0.0.1", n.port), timeout=20) as s:
        s.sendall(head + b"--" + b + b"\r\n" +
                  part("f", png_bytes(1000), "slow.png"))
        wait_for(lambda: len(n.incoming()) == 1, "the temp file")
        # nginx gives up on the body and closes without an answer
        try:
            got = s.recv(4096)
        except ConnectionResetError:
            got = b""
        assert got == b""
    wait_for(lambda: n.incoming() == [], "the temp file to go")
    assert n.stored() == []
    access = (n.prefix / "logs" / "access.log").read_text()
    assert '"POST /upload HTTP/1.1" 408 ' in access, access
