"""Signed links checked by nginx (docs/tokens.md): one-click unsubscribe
(RFC 8058) writes the suppression list, signed downloads serve a stored
upload to whoever holds a valid link for it.  Tokens are made with
`gatehouse tokens make`, and also by hand here from the spec, which checks
the spec and the code agree."""
import base64
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import time

import pytest

from ngx_support import GH, Nginx, check_log
from gh_http import (PDF, ctype, multipart, part, png_bytes, post,
                     read_response)

SERVER = """\
        location = /unsubscribe {{
            gatehouse_unsubscribe;
        }}
        location /dl/ {{
            gatehouse_download;
        }}
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_user $http_x_user;
        }}
"""


@pytest.fixture(scope="module")
def links():
    n = Nginx()
    key, old = n.prefix / "conf" / "token.key", n.prefix / "conf" / "old.key"
    n.write_ghconf(f"[tokens]\nkey_file = {old}\n")
    n.gh("tokens", "keygen")
    n.write_ghconf(f"[tokens]\nkey_file = {key}\nprevious_key_file = {old}\n")
    n.gh("tokens", "keygen")
    n.keys = (bytes.fromhex(key.read_text().strip()),
              bytes.fromhex(old.read_text().strip()))
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=n.uploads))
    try:
        n.start()
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    check_log(log)


def spec_token(master, purpose, expires, fields):
    """A token made from docs/tokens.md alone."""
    label = {1: b"gatehouse token v1 unsubscribe",
             2: b"gatehouse token v1 download"}[purpose]
    k = hmac.new(master, label, hashlib.sha256).digest()
    body = bytes([1, purpose]) + struct.pack(">Q", expires) + \
        bytes([len(fields)])
    for f in fields:
        f = f.encode()
        body += bytes([len(f)]) + f
    mac = hmac.new(k, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()


def request(port, method, path, body=b"", ctype=None, headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Content-Length: {len(body)}", "Connection: close", *headers]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        if method == "HEAD":
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk
        return read_response(s)


def suppressed(n, addr, lst):
    return n.gh("suppress", "check", addr, "--list", lst,
                check=False).returncode == 0


ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


def test_get_shows_a_page_and_changes_nothing(links):
    t = links.gh("tokens", "make", "unsubscribe", "ann@example.org",
                 "news").stdout.strip()
    r = request(links.port, "GET", f"/unsubscribe?t={t}")
    assert r.status == 200, r
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    page = r.body.decode()
    assert "<b>ann@example.org</b>" in page and "<b>news</b>" in page
    assert 'name="List-Unsubscribe" value="One-Click"' in page
    assert 'method="post"' in page
    assert not suppressed(links, "ann@example.org", "news")


def test_one_click_post_suppresses(links):
    t = links.gh("tokens", "make", "unsubscribe", "bob@example.org",
                 "news").stdout.strip()
    r = request(links.port, "POST", f"/unsubscribe?t={t}", ONE_CLICK, FORM)
    assert r.status == 200, r
    assert "<b>bob@example.org</b> will get no more mail" in r.body.decode()
    assert suppressed(links, "bob@example.org", "news")
    assert not suppressed(links, "bob@example.org", "other")
    entries = json.loads(links.gh("--json", "suppress", "list").stdout)
    e = [x for x in entries if x["address"] == "bob@example.org"][0]
    assert e["source"] == "unsubscribe"


def test_one_click_as_multipart(links):
    t = links.gh("tokens", "make", "unsubscribe", "cat@example.org",
                 "deals").stdout.strip()
    body = multipart([part("List-Unsubscribe", b"One-Click")])
    r = request(links.port, "POST", f"/unsubscribe?t={t}", body,
                ctype())
    assert r.status == 200, r
    assert suppressed(links, "cat@example.org", "deals")


def test_post_without_one_click_changes_nothing(links):
    t = links.gh("tokens", "make", "unsubscribe", "dan@example.org",
                 "news").stdout.strip()
    r = request(links.port, "POST", f"/unsubscribe?t={t}", b"a=b", FORM)
    assert r.status == 400, r
    assert not suppressed(links, "dan@example.org", "news")


def test_bad_tokens(links):
    now = int(time.time())
    good = spec_token(links.keys[0], 1, now + 3600,
                      ["eve@example.org", "news"])
    # the hand-made token is accepted: the spec and the code agree
    r = request(links.port, "GET", f"/unsubscribe?t={good}")
    assert r.status == 200 and "eve@example.org" in r.body.decode(), r
    # and one signed with the previous key still works
    old = spec_token(links.keys[1], 1, now + 3600, ["fay@example.org", "x"])
    r = request(links.port, "POST", f"/unsubscribe?t={old}", ONE_CLICK, FORM)
    assert r.status == 200, r
    assert suppressed(links, "fay@example.org", "x")

    tampered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
    download = spec_token(links.keys[0], 2, now + 3600, ["1", ""])
    other_key = spec_token(b"\x01" * 32, 1, now + 3600, ["eve@example.org"])
    for bad in (tampered, download, other_key, "", "not-a-token!"):
        for method, body in (("GET", b""), ("POST", ONE_CLICK)):
            r = request(links.port, method, f"/unsubscribe?t={bad}", body,
                        FORM)
            assert r.status == 400, (bad, method, r)
    assert not suppressed(links, "eve@example.org", "news")

    expired = spec_token(links.keys[0], 1, now - 10,
                         ["gus@example.org", "news"])
    r = request(links.port, "POST", f"/unsubscribe?t={expired}", ONE_CLICK,
                FORM)
    assert r.status == 410, r
    assert "gus@example.org" in r.body.decode()
    assert not suppressed(links, "gus@example.org", "news")


def test_html_in_the_address_is_escaped(links):
    t = spec_token(links.keys[0], 1, int(time.time()) + 60,
                   ['"<script>x</script>"@example.org', "n"])
    r = request(links.port, "GET", f"/unsubscribe?t={t}")
    assert "<script>" not in r.body.decode()
    assert "&lt;script&gt;" in r.body.decode()


def upload(n, content, name, user="alice"):
    r = post(n.port, "/upload", multipart([part("f", content, name)]),
             extra=[f"X-User: {user}"])
    assert r.status == 201, r
    return r.json()["id"]


def test_signed_download(links):
    png = png_bytes(5000)
    uid = upload(links, png, "holiday photo é.png")
    t = links.gh("tokens", "make", "download", str(uid),
                 "alice").stdout.strip()
    r = request(links.port, "GET", f"/dl/{uid}?t={t}")
    assert r.status == 200, r
    assert r.body == png
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    # the stored name is the sanitized one; its UTF-8 survives in filename*
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"holiday_photo___.png\"; "
        "filename*=UTF-8''holiday_photo_%C3%A9.png")
    head = request(links.port, "HEAD", f"/dl/{uid}?t={t}")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert f"Content-Length: {len(png)}".encode() in head

    # a link without a user works for anyone who holds it
    t2 = links.gh("tokens", "make", "download", str(uid)).stdout.strip()
    assert request(links.port, "GET", f"/dl/{uid}?t={t2}").body == png


def test_download_refusals(links):
    uid = upload(links, png_bytes(), "a.png", "alice")
    other = upload(links, png_bytes(10), "b.png", "alice")
    t = links.gh("tokens", "make", "download", str(uid),
                 "alice").stdout.strip()
    # a link for another upload, none, a tampered one
    r = request(links.port, "GET", f"/dl/{other}?t={t}")
    assert r.status == 403 and r.json()["error"] == "bad_link", r
    assert request(links.port, "GET", f"/dl/{uid}").status == 403
    assert request(links.port, "GET",
                   f"/dl/{uid}?t={t[:-1]}x").status == 403
    # an unsubscribe token is not a download token
    u = spec_token(links.keys[0], 1, int(time.time()) + 60, [str(uid), ""])
    assert request(links.port, "GET", f"/dl/{uid}?t={u}").status == 403
    # a link naming another user
    bob = links.gh("tokens", "make", "download", str(uid),
                   "bob").stdout.strip()
    r = request(links.port, "GET", f"/dl/{uid}?t={bob}")
    assert r.status == 404, r
    # expired
    old = spec_token(links.keys[0], 2, int(time.time()) - 5,
                     [str(uid), "alice"])
    r = request(links.port, "GET", f"/dl/{uid}?t={old}")
    assert r.status == 410 and r.json()["error"] == "link_expired", r
    # an upload that was refused has no file to serve
    r = post(links.port, "/upload", multipart([part("f", PDF, "x.png")]),
             extra=["X-User: alice"])
    assert r.status == 415
    for _ in range(100):
        recs = [x for x in links.records() if x["original_name"] == "x.png"]
        if recs:
            break
        time.sleep(0.05)
    rid = recs[0]["id"]
    t = links.gh("tokens", "make", "download", str(rid)).stdout.strip()
    assert request(links.port, "GET", f"/dl/{rid}?t={t}").status == 404
    assert request(links.port, "POST", f"/dl/{uid}?t={t}").status == 405


# ---- ranges: nginx's range filter serves them, as for static files ----


@pytest.fixture(scope="module")
def big(links):
    """A stored upload larger than nginx's output buffers (1 MiB of random
    bytes after a PNG header) and a download link for it."""
    data = png_bytes() + os.urandom(1 << 20)
    uid = upload(links, data, "big.png")
    t = links.gh("tokens", "make", "download", str(uid),
                 "alice").stdout.strip()
    whole = request(links.port, "GET", f"/dl/{uid}?t={t}")
    assert whole.status == 200 and whole.body == data, whole.status
    return uid, t, data, whole.headers


def ranged(links, big, *headers, method="GET", token=None):
    uid, t, _, _ = big
    return request(links.port, method, f"/dl/{uid}?t={token or t}",
                   headers=headers)


def test_whole_download_advertises_ranges(links, big):
    _, _, data, h = big
    assert h["accept-ranges"] == "bytes"
    assert h["content-length"] == str(len(data))
    # the validators If-Range is compared with
    assert h["etag"].startswith('"') and h["etag"].endswith('"')
    assert h["last-modified"].endswith(" GMT")
    assert h["cache-control"] == "private, no-store"
    head = ranged(links, big, method="HEAD")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert b"\r\nAccept-Ranges: bytes\r\n" in head
    assert f"\r\nETag: {h['etag']}\r\n".encode() in head
    assert f"Content-Length: {len(data)}\r\n".encode() in head


def test_range_in_the_middle(links, big):
    _, _, data, _ = big
    size = len(data)
    for first, last in ((100, 199), (600000, 700000), (0, 0),
                        (size - 1, size - 1)):
        r = ranged(links, big, f"Range: bytes={first}-{last}")
        assert r.status == 206, (first, last, r.status)
        assert r.body == data[first:last + 1], (first, last)
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert r.headers["content-length"] == str(last + 1 - first)
        assert r.headers["content-type"] == "image/png"
        assert r.headers["content-disposition"].startswith("attachment; ")
        assert r.headers["x-content-type-options"] == "nosniff"
    # a last byte past the end is cut to the end (RFC 9110 14.1.1)
    r = ranged(links, big, f"Range: bytes={size - 3}-{size + 100}")
    assert r.status == 206 and r.body == data[-3:], r.status
    assert r.headers["content-range"] == f"bytes {size - 3}-{size - 1}/{size}"
    # HEAD with a range: the 206 headers alone
    head = ranged(links, big, "Range: bytes=100-199", method="HEAD")
    assert head.startswith(b"HTTP/1.1 206 ") and head.endswith(b"\r\n\r\n")
    assert f"Content-Range: bytes 100-199/{size}\r\n".encode() in head


def test_suffix_and_open_ranges(links, big):
    _, _, data, _ = big
    size = len(data)
    r = ranged(links, big, "Range: bytes=-10")
    assert r.status == 206 and r.body == data[-10:], r.status
    assert r.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"
    r = ranged(links, big, "Range: bytes=1000000-")
    assert r.status == 206 and r.body == data[1000000:], r.status
    assert r.headers["content-range"] == f"bytes 1000000-{size - 1}/{size}"


def test_unsatisfiable_range(links, big):
    _, _, data, _ = big
    size = len(data)
    for rng in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}",
                "bytes=500-100", "bytes=x-y"):
        r = ranged(links, big, f"Range: {rng}")
        assert r.status == 416, (rng, r.status)
        assert r.headers["content-range"] == f"bytes */{size}", rng
        # nginx's own page, no attachment and none of the file
        assert "content-disposition" not in r.headers, rng
        assert len(r.body) < 1000 and data[100:200] not in r.body, rng
    # not "bytes=": no range at all, the whole file
    r = ranged(links, big, "Range: pages=1-2")
    assert r.status == 200 and r.body == data, r.status


def parse_byteranges(ctype_value, body):
    """The parts of a multipart/byteranges body: [(content-range, bytes)]."""
    assert ctype_value.startswith("multipart/byteranges; boundary=")
    delim = b"\r\n--" + ctype_value.split("boundary=")[1].encode()
    parts, pos = [], 0
    while True:
        assert body[pos:pos + len(delim)] == delim, pos
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            assert body[pos + 2:] == b"\r\n"
            return parts
        end = body.index(b"\r\n\r\n", pos)
        hdrs = dict(ln.split(": ", 1) for ln in
                    body[pos + 2:end].decode().split("\r\n"))
        first, last = map(int, hdrs["Content-Range"].split()[1]
                          .split("/")[0].split("-"))
        pos = end + 4
        parts.append((hdrs, body[pos:pos + last + 1 - first]))
        pos += last + 1 - first


def test_multiple_ranges(links, big):
    """Several ranges: one multipart/byteranges answer, as nginx gives for
    static files (max_ranges limits them)."""
    _, _, data, _ = big
    size = len(data)
    r = ranged(links, big, "Range: bytes=0-9,500000-500099,-5")
    assert r.status == 206, r.status
    assert "content-range" not in r.headers
    parts = parse_byteranges(r.headers["content-type"], r.body)
    assert [(h["Content-Type"], h["Content-Range"], b) for h, b in parts] == [
        ("image/png", f"bytes 0-9/{size}", data[:10]),
        ("image/png", f"bytes 500000-500099/{size}", data[500000:500100]),
        ("image/png", f"bytes {size - 5}-{size - 1}/{size}", data[-5:])]
    assert r.headers["content-length"] == str(len(r.body))


def test_if_range(links, big):
    _, _, data, h = big
    # the file's own validators: the range
    for validator in (h["etag"], h["last-modified"]):
        r = ranged(links, big, "Range: bytes=100-199",
                   f"If-Range: {validator}")
        assert r.status == 206 and r.body == data[100:200], validator
    # stale ones (the file changed since): the whole file
    mtime = email.utils.parsedate_to_datetime(h["last-modified"])
    earlier = email.utils.format_datetime(
        mtime - datetime.timedelta(hours=1), usegmt=True)
    for validator in ('"5f0c1a2b-100"', earlier, 'W/' + h["etag"]):
        r = ranged(links, big, "Range: bytes=100-199",
                   f"If-Range: {validator}")
        assert r.status == 200 and r.body == data, (validator, r.status)
        assert "content-range" not in r.headers


def test_conditional_requests(links, big):
    """If-None-Match and If-Match are nginx's, as for static files."""
    _, _, data, h = big
    r = ranged(links, big, f"If-None-Match: {h['etag']}")
    assert r.status == 304 and r.body == b"", r.status
    r = ranged(links, big, 'If-Match: "0-0"')
    assert r.status == 412 and data[:100] not in r.body, r.status
    r = ranged(links, big, 'If-None-Match: "0-0"')
    assert r.status == 200 and r.body == data, r.status


def test_token_is_checked_before_any_range(links, big):
    uid, t, data, _ = big
    expired = spec_token(links.keys[0], 2, int(time.time()) - 5,
                         [str(uid), "alice"])
    bob = links.gh("tokens", "make", "download", str(uid),
                   "bob").stdout.strip()
    for token, status, code in ((t[:-1] + ("x" if t[-1] != "x" else "y"),
                                 403, "bad_link"),
                                (expired, 410, "link_expired"),
                                (bob, 404, "not_found")):
        for extra in ((), (f'If-Range: {big[3]["etag"]}',)):
            r = ranged(links, big, "Range: bytes=100-199", *extra,
                       token=token)
            assert r.status == status, (code, r.status)
            assert r.json()["error"] == code
            assert "content-range" not in r.headers
            assert "accept-ranges" not in r.headers
            assert data[100:200] not in r.body
    r = request(links.port, "GET", f"/dl/{uid}", headers=(
        "Range: bytes=100-199",))
    assert r.status == 403 and data[100:200] not in r.body, r.status


def test_links_need_keys(nginx_conf):
    n = nginx_conf
    n.write(server="        location = /u { gatehouse_unsubscribe; }\n")
    r = n.test()
    assert r.returncode != 0
    assert 'need "gatehouse_conf"' in r.stderr, r.stderr

    n.write_ghconf(f"[tokens]\nkey_file = {n.prefix}/missing.key\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server="        location /f/ { gatehouse_download; }\n")
    r = n.test()
    assert r.returncode != 0
    assert "key_file" in r.stderr and "missing.key" in r.stderr, r.stderr


def test_web_key_file_without_the_master(nginx_conf):
    """[tokens] web_key_file: nginx checks unsubscribe and download links
    (current and previous keys) with the derived keys alone, the masters
    out of its reach; tokens made with the mail domain's file verify."""
    n = nginx_conf
    conf = n.prefix / "conf"
    key, old = conf / "token.key", conf / "old.key"
    web, mail = conf / "token-web.key", conf / "token-mail.key"
    domains = f"web_key_file = {web}\nmail_key_file = {mail}\n"
    n.write_ghconf(f"[tokens]\nkey_file = {old}\n{domains}")
    n.gh("tokens", "keygen")
    n.write_ghconf(f"[tokens]\nkey_file = {key}\nprevious_key_file = {old}\n"
                   f"{domains}")
    n.gh("tokens", "keygen")
    cur, prev = (bytes.fromhex(key.read_text().strip()),
                 bytes.fromhex(old.read_text().strip()))
    text = web.read_text()
    assert cur.hex() not in text and prev.hex() not in text
    assert "\ndownload.previous " in text and "\nunsubscribe " in text
    # tokens from the mail domain's file (as the milter makes them)
    mailconf = conf / "mail.conf"
    mailconf.write_text(f"[tokens]\nkey_file = {mail}\n")
    from_mail = subprocess.run(
        [str(GH), "-c", str(mailconf), "tokens", "make", "unsubscribe",
         "mia@example.org", "news"], capture_output=True, text=True,
        check=True).stdout.strip()
    # the masters move out of nginx's configuration altogether
    hidden = n.prefix / "masters"
    hidden.mkdir(mode=0o700)
    key.rename(hidden / "token.key")
    old.rename(hidden / "old.key")
    n.write_ghconf(f"[tokens]\nkey_file = {conf}/no-such-master.key\n"
                   f"web_key_file = {web}\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=n.uploads))
    n.start()

    now = int(time.time())
    for who, master in (("new", cur), ("old", prev)):
        t = spec_token(master, 1, now + 3600, [f"{who}@example.org", "news"])
        r = request(n.port, "POST", f"/unsubscribe?t={t}", ONE_CLICK, FORM)
        assert r.status == 200, (who, r)
        assert suppressed(n, f"{who}@example.org", "news")
    r = request(n.port, "POST", f"/unsubscribe?t={from_mail}", ONE_CLICK,
                FORM)
    assert r.status == 200, r
    assert suppressed(n, "mia@example.org", "news")
    forged = spec_token(b"\x02" * 32, 1, now + 3600, ["x@example.org", "n"])
    assert request(n.port, "GET", f"/unsubscribe?t={forged}").status == 400

    png = png_bytes(300)
    uid = upload(n, png, "p.png")
    for master in (cur, prev):
        t = spec_token(master, 2, now + 60, [str(uid), "alice"])
        r = request(n.port, "GET", f"/dl/{uid}?t={t}")
        assert r.status == 200 and r.body == png, r
    # the unsubscribe token is still no download link
    t = spec_token(cur, 1, now + 60, [str(uid), "alice"])
    assert request(n.port, "GET", f"/dl/{uid}?t={t}").status == 403


def test_web_key_file_must_hold_what_locations_need(nginx_conf):
    n = nginx_conf
    conf = n.prefix / "conf"
    mail = conf / "token-mail.key"
    n.write_ghconf(f"[tokens]\nkey_file = {conf}/token.key\n"
                   f"mail_key_file = {mail}\n")
    n.gh("tokens", "keygen")
    # the mail domain's file has no download key
    n.write_ghconf(f"[tokens]\nweb_key_file = {mail}\n")
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server="        location /f/ { gatehouse_download; }\n")
    r = n.test()
    assert r.returncode != 0
    assert "web_key_file" in r.stderr and "no download key" in r.stderr, \
        r.stderr
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server="        location = /u { gatehouse_unsubscribe; }\n")
    assert n.test().returncode == 0
    # a bad line is named
    mail.write_text("unsubscribe 1234\n")
    r = n.test()
    assert r.returncode != 0 and "line 1" in r.stderr, r.stderr
