"""gatehouse_upload_pass: checked, scanned and stored uploads go on to the
application (a small Python backend on 127.0.0.1 that records what it
gets) with each file part replaced by NAME.id, .name, .path, .sha256,
.mime, .size and .category fields, other fields passed through in place
(name and value only); refused uploads, and forms whose own fields use
those suffixes, never reach it."""
import io
import zipfile

import pytest

from ngx_support import EICAR, Backend, Nginx, check_log, make_clamav_db, \
    parse_form
from gh_http import (PDF, curl_h2, multipart, part, png_bytes, post,
                     post_chunked, sha256)

PASS_SERVER = """\
        location = /app/upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_user $http_x_user;
            gatehouse_upload_pass /backend/upload;
        }}
        location = /app/named {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_pass @app;
        }}
        location = /backend/upload {{
            internal;
            proxy_pass http://127.0.0.1:{bport}/received;
        }}
        location @app {{
            proxy_pass http://127.0.0.1:{bport};
        }}
"""


@pytest.fixture(scope="module")
def app():
    backend = Backend()
    n = Nginx()
    db = make_clamav_db(n.prefix / "clamav")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                 f"    gatehouse_clamav_db {db};\n",
            server=PASS_SERVER.format(uploads=n.uploads, bport=backend.port))
    try:
        n.start()
        n.backend = backend
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
        backend.close()
    check_log(log)


@pytest.fixture(autouse=True)
def fresh(app):
    app.backend.received.clear()
    yield
    assert app.incoming() == []


def fields_of(app, i=-1):
    method, path, headers, body = app.backend.received[i]
    return headers, body, parse_form(headers, body)


def test_files_replaced_by_fields(app):
    png, pdf = png_bytes(2000), PDF
    body = multipart([part("title", b"Holiday \xc3\xa9t\xc3\xa9"),
                      part("photo", png, "beach.PNG", "image/png"),
                      part("meta", b'{"a": 1}', ctype="application/json"),
                      part("doc", pdf, "notes.pdf")])
    r = post(app.port, "/app/upload", body, extra=["X-User: alice"])
    # the application's own answer comes back
    assert r.status == 200, r
    assert r.json() == {"app": "received", "n": 1}

    assert len(app.backend.received) == 1
    method, path, headers, raw = app.backend.received[0]
    assert (method, path) == ("POST", "/received")
    assert headers["X-User"] == "alice"
    assert int(headers["Content-Length"]) == len(raw)
    assert "Transfer-Encoding" not in headers
    # no file bytes reach the application
    assert png not in raw and b"%PDF" not in raw

    form = parse_form(headers, raw)
    names = [f[0] for f in form]
    assert names == ["title",
                     "photo.id", "photo.name", "photo.path", "photo.sha256",
                     "photo.mime", "photo.size", "photo.category",
                     "meta",
                     "doc.id", "doc.name", "doc.path", "doc.sha256",
                     "doc.mime", "doc.size", "doc.category"]
    v = {f[0]: f[2] for f in form}
    assert v["title"] == "Holiday \u00e9t\u00e9".encode()
    # the client's part headers are not passed on, only the value
    assert [f[1] for f in form if f[0] == "meta"] == [None]
    assert v["meta"] == b'{"a": 1}'
    assert v["photo.name"] == b"beach.png"
    assert v["photo.sha256"].decode() == sha256(png)
    assert v["photo.mime"] == b"image/png"
    assert v["photo.size"] == str(len(png)).encode()
    assert v["photo.category"] == b"images"
    assert v["doc.mime"] == b"application/pdf"
    # the stored files, and their records in the store
    with open(v["photo.path"], "rb") as f:
        assert f.read() == png
    with open(v["doc.path"], "rb") as f:
        assert f.read() == pdf
    rec = app.record(int(v["photo.id"]))
    assert rec["status"] == "stored" and rec["user"] == "alice"
    assert rec["stored_name"] == v["photo.path"].decode()
    assert rec["scan"] == "clean"


def test_chunked_and_http2_reach_the_app_with_a_length(app, tmp_path):
    png = png_bytes(50000)
    r = post_chunked(app.port, "/app/upload",
                     multipart([part("f", png, "c.png")]), chunk=999)
    assert r.status == 200, r
    headers, raw, form = fields_of(app)
    assert int(headers["Content-Length"]) == len(raw)
    assert dict((f[0], f[2]) for f in form)["f.sha256"].decode() == \
        sha256(png)

    p = tmp_path / "h2.png"
    p.write_bytes(png)
    code, version, body = curl_h2(app.port2, "/app/upload",
                                  f"file=@{p}", "caption=two")
    assert (code, version) == (200, "2"), body
    headers, raw, form = fields_of(app)
    assert [f[0] for f in form][:2] == ["file.id", "file.name"]
    assert form[-1][:1] == ("caption",) and form[-1][2] == b"two"


def test_named_location(app):
    r = post(app.port, "/app/named",
             multipart([part("f", png_bytes(), "n.png")]))
    assert r.status == 200, r
    method, path, headers, raw = app.backend.received[-1]
    assert path == "/app/named"


def test_infected_upload_never_reaches_the_app(app):
    r = post(app.port, "/app/upload",
             multipart([part("t", b"x"), part("f", EICAR, "e.pdf")]))
    # EICAR is text: refused by type before any scan
    assert r.status == 415, r
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("e.com", EICAR)
    r = post(app.port, "/app/upload",
             multipart([part("t", b"x"), part("f", buf.getvalue(), "e.zip")]))
    assert r.status == 422, r
    assert r.json()["signature"] == "Gatehouse.Test.EICAR.UNOFFICIAL"
    assert app.backend.received == []


def test_fields_beyond_the_limit(app):
    big = b"v" * (70 * 1024)
    r = post(app.port, "/app/upload",
             multipart([part("big", big), part("f", png_bytes(), "a.png")]))
    assert r.status == 413, r
    assert r.json()["error"] == "fields_too_large"
    assert app.backend.received == []


def test_odd_field_names_are_encoded(app):
    disp = b'form-data; name="we\\"ird"'
    body = multipart([part("x", b"1", disposition=disp),
                      part("f", png_bytes(), "a.png")])
    r = post(app.port, "/app/upload", body)
    assert r.status == 200, r
    headers, raw, form = fields_of(app)
    assert b'name="we%22ird"' in raw
    assert form[0][2] == b"1"


def quoted(name):
    """A field name as a client quotes it: backslash and quote escaped."""
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def test_backslashes_and_quotes_in_names_round_trip(app):
    # the module reads a\b"c\ and U:\x; '"' goes on as %22, as a browser
    # would send it, a backslash as a quoted-pair the application reads back
    text, upload = b'a\\b"c\\', b"U:\\x"
    body = multipart([
        part("x", b"1", disposition=b"form-data; name=" + quoted(text)),
        part("x", png_bytes(), disposition=b"form-data; name="
             + quoted(upload) + b'; filename="a.png"'),
        part("last", b"2")])
    r = post(app.port, "/app/upload", body)
    assert r.status == 200, r
    headers, raw, form = fields_of(app)
    assert b'name="a\\\\b%22c\\\\"\r\n' in raw
    assert [(f[0], f[2]) for f in form if not f[0].startswith("U:")] == \
        [("a\\b%22c\\", b"1"), ("last", b"2")]
    v = {f[0]: f[2] for f in form}
    assert v["U:\\x.name"] == b"a.png"
    with open(v["U:\\x.path"], "rb") as f:
        assert f.read() == png_bytes()


def test_part_headers_are_not_passed_on(app):
    body = multipart([
        part("meta", b'{"path": "/etc/passwd"}', ctype="application/json",
             extra_headers=b"X-Extra: 1\r\nContent-Transfer-Encoding: 8bit"
                           b"\r\n"),
        part("f", png_bytes(), "a.png", "image/png")])
    r = post(app.port, "/app/upload", body)
    assert r.status == 200, r
    headers, raw, form = fields_of(app)
    assert form[0] == ("meta", None, b'{"path": "/etc/passwd"}')
    assert b"application/json" not in raw and b"X-Extra" not in raw
    assert b"Content-Type" not in raw and b"Transfer-Encoding" not in raw
    # every part of the new body: Content-Disposition, a blank line, value
    boundary = headers["Content-Type"].split("boundary=")[1].encode()
    for p in raw.split(b"--" + boundary)[1:-1]:
        assert p.startswith(b"\r\nContent-Disposition: form-data; name=\"")
        assert p.index(b"\r\n\r\n") == p.index(b"\r\n", 2), p


@pytest.mark.parametrize("forged, before_file", [
    ("photo.path", True),        # beside the real file
    ("photo.path", False),       # after it: the application would get two
    ("avatar.path", True),       # no file avatar in the form at all
    ("photo.SHA256", True),      # in another case
    ("x.id", True),
    ("x.name", True),
    ("x.mime", False),
    ("x.size", True),
    ("x.category", True),
    (".path", True),             # what a file input named "" would give
])
def test_reserved_field_names_are_refused(app, forged, before_file):
    stored = app.stored()
    forged_part = part(forged, b"/etc/passwd")
    file_part = part("photo", png_bytes(), "p.png")
    parts = [part("title", b"t"), forged_part, file_part]
    if not before_file:
        parts = [part("title", b"t"), file_part, forged_part]
    r = post(app.port, "/app/upload", multipart(parts))
    assert r.status == 400, r
    j = r.json()
    assert j["error"] == "reserved_field_name"
    assert j["field"] == forged
    assert j["reserved_suffix"] == forged[forged.rindex("."):].lower()
    assert app.backend.received == []
    assert app.stored() == stored
    log = app.error_log()
    assert f'form field "{forged}" refused: names ending in ' \
           f'"{j["reserved_suffix"]}" are reserved' in log
    assert "upload refused: 400 reserved_field_name" in log


def test_reserved_names_in_an_empty_file_input_are_refused(app):
    # a file input left empty (filename="") is passed on as a field
    r = post(app.port, "/app/upload",
             multipart([part("doc.path", b"", ""),
                        part("f", png_bytes(), "a.png")]))
    assert r.status == 400, r
    assert r.json()["error"] == "reserved_field_name"
    assert app.backend.received == []


def test_names_near_the_reserved_ones_pass(app):
    names = ["path", "photo.paths", "photo.path2", "photo_path", "id",
             "my.identity", "photo.path.x"]
    r = post(app.port, "/app/upload",
             multipart([part(n, b"v") for n in names]
                       + [part("photo.path", png_bytes(), "p.png")]))
    assert r.status == 200, r
    headers, raw, form = fields_of(app)
    # a file input may itself be named like that: its fields are the
    # module's own
    assert [f[0] for f in form][:len(names) + 3] == \
        names + ["photo.path.id", "photo.path.name", "photo.path.path"]


def test_pass_target_must_not_upload_again(nginx_conf):
    n = nginx_conf
    n.write(server=f"""\
        location = /a {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_upload_pass /b;
        }}
        location = /b {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
""")
    n.start()
    r = post(n.port, "/a", multipart([part("f", png_bytes(), "a.png")]))
    assert r.status == 500, r
    assert "gatehouse_upload_pass" in n.error_log()
