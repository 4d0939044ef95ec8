"""Images with libgd in nginx's thread pool (docs/nginx.md, "Images"):
accepted JPEG, PNG, GIF and WebP uploads are encoded again without their
metadata (read back with exiftool, an independent reader, and PIL), EXIF
orientation is applied first, a thumbnail is stored beside the file and
recorded; a decompression bomb is refused from its header (413) and a
truncated or corrupt image with 422, nginx still serving; with
gatehouse_image_strip off the bytes are kept as uploaded."""
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import zlib

import pytest

from ngx_support import Nginx, check_log
from gh_http import multipart, part, post, sha256

PIL = pytest.importorskip("PIL.Image")
from PIL import Image  # noqa: E402

EXIFTOOL = shutil.which("exiftool")

IMG_SERVER = """\
        location = /img {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_upload_max_file_size 8m;
            gatehouse_upload_user $http_x_user;
            gatehouse_thumbnail 160x120 quality=70;
        }}
        location = /img/small {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_image_max_pixels 1000000;
        }}
        location = /img/keep {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_image_strip off;
        }}
        location = /img/keepthumb {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
            gatehouse_image_strip off;
            gatehouse_thumbnail 64x64;
        }}
        location = /plain {{
            return 200 "plain\\n";
        }}
"""

GPS_IFD = 0x8825


def exif_with_gps(orientation=None):
    ex = Image.Exif()
    ex[0x010F] = "GatehouseCam"            # Make
    ex[0x0110] = "Model X"                 # Model
    if orientation:
        ex[0x0112] = orientation
    gps = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    ex[GPS_IFD] = gps
    return ex


def photo(size=(400, 300), fmt="JPEG", orientation=None, exif=True,
          mode="RGB", **kw):
    im = Image.new(mode, size, (40, 90, 160) if mode == "RGB"
                   else (40, 90, 160, 255))
    # a red marker in the top-left corner of the stored pixels
    im.paste((255, 0, 0) if mode == "RGB" else (255, 0, 0, 255),
             (0, 0, size[0] // 5, size[1] // 5))
    out = io.BytesIO()
    if exif:
        kw["exif"] = exif_with_gps(orientation).tobytes()
    im.save(out, fmt, **kw)
    return out.getvalue()


def upload(n, data, name, path="/img", user="alice"):
    return post(n.port, path, multipart([part("f", data, name)]),
                extra=(f"X-User: {user}",))


def stored_path(n, answer):
    return n.uploads / answer["url"].lstrip("/")


def exiftool(path):
    out = subprocess.run([EXIFTOOL, "-j", "-a", "-G1", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]


def metadata_groups(tags):
    """Groups exiftool found besides the file's own structure."""
    return sorted({k.split(":")[0] for k in tags
                   if ":" in k and k.split(":")[0] not in
                   ("ExifTool", "System", "File", "Composite", "JFIF",
                    "PNG", "GIF", "RIFF", "VP8", "VP8L")})


@pytest.fixture(scope="module")
def img():
    n = Nginx()
    n.image_defaults = ""        # the module's defaults: strip on
    n.write(server=IMG_SERVER.format(uploads=n.uploads),
            http=f"    gatehouse_conf {n.ghconf};\n")
    n.log_allow = ("image refused",)
    try:
        n.start()
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    check_log(log)


@pytest.fixture(autouse=True)
def no_temp_files_left(request):
    yield
    if "img" in request.fixturenames:
        n = request.getfixturevalue("img")
        assert n.incoming() == []


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_jpeg_metadata_gone(img):
    data = photo(orientation=1, comment=b"secret comment")
    before = exiftool_bytes(img, data)
    assert "GPS" in metadata_groups(before)
    r = upload(img, data, "holiday.jpg")
    assert r.status == 201, r
    a = r.json()
    path = stored_path(img, a)
    tags = exiftool(path)
    groups = metadata_groups(tags)
    for g in ("GPS", "IFD0", "ExifIFD", "XMP-x", "IPTC", "ICC_Profile"):
        assert not any(x.startswith(g) for x in groups), (g, groups)
    assert not any("Comment" in k for k in tags), tags
    raw = path.read_bytes()
    assert b"Exif\x00\x00" not in raw and b"GatehouseCam" not in raw
    assert b"secret comment" not in raw
    with Image.open(path) as im:
        assert im.format == "JPEG" and im.size == (400, 300)
        assert not im.getexif()
    # the answer and the record: the client's bytes and the stored ones
    assert a["sha256"] == sha256(data) and a["size"] == len(data)
    assert a["metadata"] == "stripped"
    assert a["stored_size"] == len(raw)
    assert a["stored_sha256"] == sha256(raw)
    assert (a["width"], a["height"]) == (400, 300)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def exiftool_bytes(n, data):
    p = n.prefix / "tmp" / "probe.bin"
    p.write_bytes(data)
    try:
        return exiftool(p)
    finally:
        p.unlink()


def test_orientation_applied(img):
    # an upright portrait 300x400 whose top-left is red, stored the way
    # a phone does: pixels turned to landscape, orientation 6 (rotate 90
    # clockwise to view)
    upright = Image.new("RGB", (300, 400), (40, 90, 160))
    upright.paste((255, 0, 0), (0, 0, 60, 80))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    assert stored.size == (400, 300)
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=95,
                exif=exif_with_gps(orientation=6).tobytes())
    r = upload(img, out.getvalue(), "portrait.jpg")
    assert r.status == 201, r
    a = r.json()
    assert (a["width"], a["height"]) == (300, 400)
    with Image.open(stored_path(img, a)) as im:
        assert im.size == (300, 400)
        assert not im.getexif()
        px = im.convert("RGB")
        red = px.getpixel((10, 10))
        assert red[0] > 200 and red[1] < 60 and red[2] < 60, red
        for corner in ((289, 10), (10, 389), (289, 389)):
            c = px.getpixel(corner)
            assert c[0] < 90 and c[2] > 120, (corner, c)
    # the thumbnail is upright too
    assert (a["thumb_width"], a["thumb_height"]) == (90, 120)


@pytest.mark.parametrize("orientation,corner", [
    (3, "bottom-right"), (8, "bottom-left"), (2, "top-right"),
    (4, "bottom-left"), (5, "top-left"), (6, "top-right"),
    (7, "bottom-right")])
def test_other_orientations(img, orientation, corner):
    data = photo(size=(200, 100), orientation=orientation, quality=95)
    a = upload(img, data, "o.jpg").json()
    with Image.open(stored_path(img, a)) as im:
        w, h = im.size
        px = im.convert("RGB")
    assert (w, h) == ((100, 200) if orientation in (5, 6, 7, 8)
                      else (200, 100))
    where = {"top-left": (3, 3), "top-right": (w - 4, 3),
             "bottom-left": (3, h - 4), "bottom-right": (w - 4, h - 4)}
    c = px.getpixel(where[corner])
    assert c[0] > 200 and c[2] < 60, (corner, c)


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_turned(img, mode):
    # libjpeg-turbo decodes grey into libgd's rows and turns it while
    # decoding; a CMYK JPEG goes through libgd's reader and the turn after
    src = Image.new("RGB", (200, 100), (0, 0, 0))
    src.paste((255, 255, 255), (0, 0, 40, 20))
    out = io.BytesIO()
    src.convert(mode).save(out, "JPEG", quality=95,
                           exif=exif_with_gps(orientation=6).tobytes())
    r = upload(img, out.getvalue(), "o.jpg")
    assert r.status == 201, r
    a = r.json()
    assert (a["width"], a["height"]) == (100, 200)
    with Image.open(stored_path(img, a)) as im:
        assert im.format == "JPEG" and im.size == (100, 200)
        assert not im.getexif()
        px = im.convert("L")
    assert px.getpixel((96, 3)) > 200
    for corner in ((3, 3), (3, 196), (96, 196)):
        assert px.getpixel(corner) < 50, corner


def test_thumbnail_stored_and_recorded(img):
    data = photo(size=(1000, 500))
    r = upload(img, data, "wide.jpg")
    assert r.status == 201, r
    a = r.json()
    assert (a["thumb_width"], a["thumb_height"]) == (160, 80)
    assert a["thumb_url"].endswith(".thumb.jpg")
    assert a["url"].rsplit(".", 1)[0] == a["thumb_url"][:-len(".thumb.jpg")]
    thumb = img.uploads / a["thumb_url"].lstrip("/")
    with Image.open(thumb) as t:
        assert t.format == "JPEG" and t.size == (160, 80)
    assert stat.S_IMODE(os.stat(thumb).st_mode) == 0o640
    # the record holds both sizes and the thumbnail's name
    rec = img.record(a["id"])
    assert (rec["width"], rec["height"]) == (1000, 500)
    assert (rec["thumb_width"], rec["thumb_height"]) == (160, 80)
    assert rec["thumb_url"] == a["thumb_url"]
    assert rec["thumb_name"] == str(thumb)
    assert rec["thumb_size"] == thumb.stat().st_size
    # and `gatehouse uploads show` prints them
    out = img.gh("uploads", "show", str(a["id"])).stdout
    for line in ("width          1000", "height         500",
                 "thumb_width    160", "thumb_height   80",
                 f"thumb_url      {a['thumb_url']}", "metadata       stripped"):
        assert line in out, out


def test_png_gif_webp(img):
    clear = Image.new("RGBA", (320, 240), (40, 90, 160, 255))
    clear.paste((255, 0, 0, 255), (0, 0, 64, 48))
    clear.paste((0, 0, 0, 0), (280, 180, 320, 240))
    out = io.BytesIO()
    clear.save(out, "PNG")
    png = out.getvalue()
    # a text chunk with a secret, and an eXIf chunk
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret png comment")
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, "PNG", pnginfo=info,
                                     exif=exif_with_gps().tobytes())
    png = out.getvalue()
    assert b"secret png comment" in png and b"eXIf" in png
    a = upload(img, png, "a.png").json()
    raw = stored_path(img, a).read_bytes()
    assert b"secret png comment" not in raw and b"eXIf" not in raw
    assert b"GatehouseCam" not in raw
    assert a["thumb_url"].endswith(".thumb.png")
    assert (a["thumb_width"], a["thumb_height"]) == (160, 120)
    with Image.open(stored_path(img, a)) as im:
        assert im.size == (320, 240)
        # transparency survives: the marker is opaque, a clear pixel clear
        px = im.convert("RGBA")
        assert px.getpixel((5, 5)) == (255, 0, 0, 255)
        assert px.getpixel((300, 200))[3] == 0
    # an RGB PNG stays RGB (colour type 2), without an alpha channel
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (9, 9, 9)).save(out, "PNG")
    a = upload(img, out.getvalue(), "rgb.png").json()
    raw = stored_path(img, a).read_bytes()
    assert raw[25] == 2, raw[:32]

    g = Image.new("P", (50, 40))
    out = io.BytesIO()
    g.save(out, "GIF", comment=b"secret gif comment")
    a = upload(img, out.getvalue(), "a.gif").json()
    raw = stored_path(img, a).read_bytes()
    assert raw.startswith(b"GIF8") and b"secret gif comment" not in raw
    assert a["thumb_url"].endswith(".thumb.png")

    w = io.BytesIO()
    Image.new("RGB", (300, 200), (1, 2, 3)).save(
        w, "WEBP", exif=exif_with_gps().tobytes())
    assert b"GatehouseCam" in w.getvalue()
    r = upload(img, w.getvalue(), "a.webp")
    assert r.status == 201, r
    a = r.json()
    raw = stored_path(img, a).read_bytes()
    assert raw[8:12] == b"WEBP" and b"GatehouseCam" not in raw
    assert b"EXIF" not in raw
    assert a["thumb_url"].endswith(".thumb.webp")
    assert (a["thumb_width"], a["thumb_height"]) == (160, 107)


def test_animated_gif_keeps_frames(img):
    frames = [Image.new("P", (30, 20), i) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:],
                   loop=0, duration=100, comment=b"secret anim comment")
    data = out.getvalue()
    assert b"secret anim comment" in data
    a = upload(img, data, "anim.gif").json()
    raw = stored_path(img, a).read_bytes()
    assert b"secret anim comment" not in raw
    with Image.open(stored_path(img, a)) as im:
        assert im.n_frames == 3


def png_header(w, h):
    def chunk(kind, d):
        return (struct.pack(">I", len(d)) + kind + d +
                struct.pack(">I", zlib.crc32(kind + d) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 64)))


def jpeg_header(w, h):
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01"
            b"\x00\x00\xff\xc0\x00\x11\x08" + struct.pack(">HH", h, w) +
            b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01" + b"\x00" * 64)


@pytest.mark.parametrize("name,data", [
    ("bomb.png", png_header(100000, 100000)),
    ("bomb.jpg", jpeg_header(65000, 65000))])
def test_bomb_refused_from_header(img, name, data):
    r = upload(img, data, name)
    assert r.status == 413, r
    e = r.json()
    assert e["error"] == "image_too_large"
    assert e["max_pixels"] == 32000000
    assert e["pixels"] > 32000000
    assert str(e["pixels"]) in e["message"] and "32000000" in e["message"]
    assert img.stored() == [] or not any(name in s for s in img.stored())
    assert post(img.port, "/plain", b"", method="GET").status == 200


def test_max_pixels_directive(img):
    data = photo(size=(1200, 900), exif=False)
    r = upload(img, data, "big.jpg", path="/img/small")
    assert r.status == 413 and r.json()["pixels"] == 1080000
    r = upload(img, photo(size=(1000, 1000), exif=False), "ok.jpg",
               path="/img/small")
    assert r.status == 201, r


@pytest.mark.parametrize("fmt,name", [("JPEG", "cut.jpg"), ("PNG", "cut.png"),
                                      ("GIF", "cut.gif"),
                                      ("WEBP", "cut.webp")])
def test_truncated_refused(img, fmt, name):
    im = Image.effect_noise((300, 200), 64).convert(
        "P" if fmt == "GIF" else "RGB")
    out = io.BytesIO()
    im.save(out, fmt)
    data = out.getvalue()
    before = img.stored()
    r = upload(img, data[:len(data) * 2 // 3], name)
    assert r.status == 422, r
    e = r.json()
    assert e["error"] == "bad_image", e
    assert e["message"]
    assert img.stored() == before
    assert post(img.port, "/plain", b"", method="GET").status == 200
    # the record says why
    rec = img.records()[0]
    assert rec["status"] == "rejected" and rec["reason"] == "bad_image"


def test_corrupt_jpeg_data_refused(img):
    data = bytearray(photo(size=(300, 200), exif=False))
    # scribble over the entropy-coded data after the headers
    sos = data.index(b"\xff\xda")
    for i in range(sos + 40, len(data) - 10, 7):
        data[i] = 0xFF if i % 2 else 0xD3
    r = upload(img, bytes(data), "bad.jpg")
    assert r.status == 422 and r.json()["error"] == "bad_image", r
    assert post(img.port, "/plain", b"", method="GET").status == 200


def test_strip_off_keeps_bytes(img):
    data = photo(orientation=6)
    r = upload(img, data, "kept.jpg", path="/img/keep")
    assert r.status == 201, r
    a = r.json()
    assert stored_path(img, a).read_bytes() == data
    # nothing to do: no image step, no image fields
    assert "metadata" not in a and "stored_sha256" not in a
    assert "thumb_url" not in a
    # with a thumbnail, the original is still kept and the thumbnail upright
    r = upload(img, data, "kept2.jpg", path="/img/keepthumb")
    a = r.json()
    assert stored_path(img, a).read_bytes() == data
    assert a["metadata"] == "kept" and "stored_sha256" not in a
    assert (a["width"], a["height"]) == (300, 400)
    assert (a["thumb_width"], a["thumb_height"]) == (48, 64)


def test_refused_request_leaves_no_thumbnail(img):
    good = photo(size=(200, 100))
    body = multipart([part("a", good, "good.jpg"),
                      part("b", png_header(100000, 100000), "bomb.png")])
    before = img.stored()
    r = post(img.port, "/img", body)
    assert r.status == 413, r
    assert img.stored() == before


def test_bad_thumbnail_directive():
    n = Nginx()
    try:
        for bad in ("0x10", "10x", "abc", "100x100 quality=0",
                    "100x100 q=5", "9000x10"):
            n.write(server=f"""
        location = /x {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_thumbnail {bad};
        }}""")
            p = n.test()
            assert p.returncode != 0 and "gatehouse_thumbnail" in p.stderr, \
                (bad, p.stderr)
        n.write(server=f"""
        location = /x {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_image_max_pixels 0;
        }}""")
        assert n.test().returncode != 0
    finally:
        n.cleanup()


def test_pass_mode_hands_on_the_stripped_image():
    """gatehouse_upload_pass: the application's NAME.path is the stored,
    stripped image; its record has the thumbnail."""
    from ngx_support import Backend, parse_form
    backend = Backend()
    n = Nginx()
    n.image_defaults = ""
    n.write(http=f"    gatehouse_conf {n.ghconf};\n", server=f"""
        location = /app {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_thumbnail 100x100;
            gatehouse_upload_pass /backend;
        }}
        location = /backend {{
            internal;
            proxy_pass http://127.0.0.1:{backend.port}/received;
        }}""")
    try:
        n.start()
        data = photo(orientation=6)
        r = post(n.port, "/app", multipart([part("photo", data, "p.jpg")]))
        assert r.status == 200, r
        _, headers, body = backend.received[-1][1:]
        form = {f[0]: f[2] for f in parse_form(headers, body)}
        path = form["photo.path"].decode()
        raw = open(path, "rb").read()
        assert b"GatehouseCam" not in raw and b"Exif" not in raw
        with Image.open(path) as im:
            assert im.size == (300, 400)
        rec = n.record(int(form["photo.id"]))
        assert rec["metadata"] == "stripped"
        assert (rec["thumb_width"], rec["thumb_height"]) == (75, 100)
        assert n.incoming() == []
        log = n.error_log()
    finally:
        n.cleanup()
        backend.close()
    check_log(log)


# ---- gatehouse_image_memory: decodes in flight per worker ----

def flat_png(w, h):
    """A large-dimension PNG of one colour: a few KB that decode to w*h*4
    bytes and more."""
    out = io.BytesIO()
    Image.new("RGB", (w, h), (90, 140, 30)).save(out, "PNG", optimize=True)
    return out.getvalue()


def vm_hwm(pid):
    """The process's peak resident set, bytes (/proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def worker_pid(n):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == n.proc.pid:
            out.append(int(pid))
    assert len(out) == 1, out
    return out[0]


BUDGET = 64 * 1024 * 1024


def test_image_memory_budget():
    """Concurrent decodes share the worker's gatehouse_image_memory: each
    upload is stored (201) or answered 503 busy with Retry-After, never
    500; the worker lives and its peak RSS grows by no more than the
    budget and a margin (without the budget the pool's four threads
    decode at once, about 4 x 55 MB); an image needing more than the whole
    budget is 413 naming both limits."""
    import concurrent.futures
    n = Nginx()
    n.image_defaults = ""
    n.write(http=f"    gatehouse_conf {n.ghconf};\n"
                 f"    gatehouse_image_memory 64m;\n", server=f"""
        location = /img {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}
        location = /plain {{
            return 200 "plain\\n";
        }}""")
    n.log_allow = ("image refused",)
    try:
        n.start()
        # 2800 x 2800: 7.84 MP, counted 8 bytes a pixel = 62.7 MB, so one
        # decode at a time fits in 64m; libgd's image and libpng's rows
        # are really about 7 bytes a pixel (55 MB)
        data = flat_png(2800, 2800)
        assert len(data) < 100 * 1024
        # warm up: the image step's libraries and arenas in place
        r = upload(n, photo(size=(64, 64), exif=False), "w.jpg")
        assert r.status == 201, r
        pid = worker_pid(n)
        before = vm_hwm(pid)

        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            answers = list(ex.map(
                lambda i: upload(n, data, f"big{i}.png"), range(10)))

        statuses = sorted(r.status for r in answers)
        for r in answers:
            assert r.status in (201, 503), (r.status, r.body[:300])
            if r.status == 503:
                e = r.json()
                assert e["error"] == "busy"
                assert r.headers.get("retry-after") == "5"
                assert e["max_memory"] == BUDGET
        assert statuses.count(201) >= 1, statuses

        assert worker_pid(n) == pid, "the worker was replaced"
        grown = vm_hwm(pid) - before
        assert grown < BUDGET + 32 * 1024 * 1024, \
            f"worker peak RSS grew by {grown >> 20} MB ({statuses})"

        # 4000 x 4000 = 16 MP, under gatehouse_image_max_pixels (32 MP)
        # but 128 MB to decode: more than the whole budget
        r = upload(n, flat_png(4000, 4000), "huge.png")
        assert r.status == 413, r
        e = r.json()
        assert e["error"] == "image_too_large"
        assert e["max_memory"] == BUDGET
        assert e["memory_needed"] == 4000 * 4000 * 8
        assert "gatehouse_image_memory" in e["message"]
        assert "gatehouse_image_max_pixels" in e["message"]
        assert post(n.port, "/plain", b"", method="GET").status == 200
        assert n.incoming() == []
        log = n.error_log()
    finally:
        n.cleanup()
    check_log(log, ("image refused",))


def test_image_memory_directive():
    n = Nginx()
    try:
        for bad in ("0", "512k", "abc"):
            n.write(http=f"    gatehouse_image_memory {bad};\n",
                    server=f"""
        location = /x {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}""")
            p = n.test()
            assert p.returncode != 0 \
                and "gatehouse_image_memory" in p.stderr, (bad, p.stderr)
        # http level only
        n.write(server=f"""
        location = /x {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
            gatehouse_image_memory 64m;
        }}""")
        assert n.test().returncode != 0
        n.write(http="    gatehouse_image_memory 1024m;\n", server=f"""
        location = /x {{
            gatehouse_upload on;
            gatehouse_upload_dir {n.uploads};
        }}""")
        p = n.test()
        assert p.returncode == 0, p.stderr
    finally:
        n.cleanup()
