"""libmagic's verdict for every type the built-in categories allow, through
nginx with the module: a file of each kind (bench/upload/magic_samples.py,
the files `make bench-magic` times) is stored under its own extension and
refused under an extension of another category.  The guard for any change
to how the module asks libmagic (flags, database: bench/README.md,
"libmagic options")."""
import importlib.util
import pathlib

import pytest

from gh_http import multipart, part, post

TOP = pathlib.Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "magic_samples", TOP / "bench/upload/magic_samples.py")
samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(samples)

CATEGORY = {"image": "images", "doc": "documents", "arc": "archives",
            "media": "media"}
# an extension of another category for each (the type must not pass there)
OTHER = {"images": "pdf", "documents": "png", "archives": "mp3",
         "media": "zip"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("magic-samples")
    return {n: (d / n).read_bytes() for n in samples.write(d)}


def allowed(files):
    return sorted(n for n in files if n.split(".")[0] in CATEGORY)


def test_every_category_has_samples(files):
    got = {CATEGORY[n.split(".")[0]] for n in allowed(files)}
    assert got == set(OTHER)
    # every extension of the built-in categories, but the OLE2 ones when
    # ClamAV's test files are not installed
    exts = {n.split(".")[1] for n in allowed(files)}
    assert {"png", "jpg", "gif", "webp", "pdf", "docx", "xlsx", "pptx",
            "zip", "rar", "7z", "mp3", "mp4", "mov", "wav", "avi"} <= exts


def test_each_allowed_type_stored(nginx, files):
    for name in allowed(files):
        r = post(nginx.port, "/upload",
                 multipart([part("f", files[name], "x." + name)]))
        assert r.status == 201, (name, r)
        a = r.json()
        assert a["category"] == CATEGORY[name.split(".")[0]], (name, a)


def test_each_type_refused_elsewhere(nginx, files):
    for name in allowed(files) + ["other.txt", "other.html", "other.elf"]:
        cat = CATEGORY.get(name.split(".")[0], "media")
        r = post(nginx.port, "/upload",
                 multipart([part("f", files[name], "x." + OTHER[cat])]))
        assert r.status == 415, (name, r)
        a = r.json()
        assert a["error"] == "type_mismatch", (name, a)
        assert a["detected_type"] not in ("", None)
