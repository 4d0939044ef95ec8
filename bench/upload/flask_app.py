"""bench/upload/flask_app.py - a Flask upload endpoint, for comparison: a small
Flask application under gunicorn that does what the nginx module does, the
way a typical Flask upload endpoint does it (werkzeug's secure_filename, an
extension allow-list by category, python-magic on the saved file, clamd
over its socket with PING then SCAN of the file, a row in an uploads
table), synchronously in the request.

Environment: GH_UPLOAD_DIR (final place), GH_TMP_DIR (temp files),
GH_CLAMD (clamd's unix socket), GH_DB (the SQLite database).
"""
import datetime
import hashlib
import os
import socket
import sqlite3
import uuid

import magic
from flask import Flask, jsonify, request
from werkzeug.utils import secure_filename

CATEGORIES = {
    "images": ({"png", "jpg", "jpeg", "gif", "webp"},
               {"image/png", "image/jpeg", "image/gif", "image/webp"}),
    "documents": ({"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx"},
                  {"application/pdf", "application/msword"}),
    "archives": ({"zip", "rar", "7z"},
                 {"application/zip", "application/x-7z-compressed"}),
    "media": ({"mp3", "mp4", "wav", "avi", "mov"},
              {"audio/mpeg", "video/mp4"}),
}

UPLOAD_DIR = os.environ.get("GH_UPLOAD_DIR", "/tmp/gh-flask/uploads")
TMP_DIR = os.environ.get("GH_TMP_DIR", "/tmp/gh-flask/tmp")
CLAMD = os.environ.get("GH_CLAMD", "/tmp/gh-flask/clamd.sock")
DB = os.environ.get("GH_DB", "/tmp/gh-flask/uploads.db")

app = Flask(__name__)


def db():
    conn = getattr(app, "_conn", None)
    if conn is None:
        conn = sqlite3.connect(DB, timeout=30, isolation_level=None)
        conn.execute("""CREATE TABLE IF NOT EXISTS uploads (
            id INTEGER PRIMARY KEY, user TEXT, original_name TEXT,
            stored_name TEXT, size INTEGER, category TEXT, mime TEXT,
            sha256 TEXT, scan TEXT, status TEXT, reason TEXT,
            client_addr TEXT, created_at TEXT)""")
        app._conn = conn
    return conn


def clamd(command):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(CLAMD)
        s.sendall(b"z" + command + b"\0")
        out = b""
        while not out.endswith(b"\0"):
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    return out.rstrip(b"\0").decode()


def record(**row):
    keys = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cur = db().execute(f"INSERT INTO uploads ({keys}) VALUES ({marks})",
                       list(row.values()))
    return cur.lastrowid


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files.get("file")
    if f is None or not f.filename:
        return jsonify(error="no_file"), 400
    name = secure_filename(f.filename)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    category = next((c for c, (exts, _) in CATEGORIES.items()
                     if ext in exts), None)
    if category is None:
        return jsonify(error="extension_not_allowed"), 415

    tmp = os.path.join(TMP_DIR, f"{uuid.uuid4().hex}.{ext}")
    f.save(tmp)
    try:
        mime = magic.from_file(tmp, mime=True)
        if mime not in CATEGORIES[category][1]:
            return jsonify(error="type_mismatch", detected_type=mime), 415
        h = hashlib.sha256()
        with open(tmp, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        size = os.path.getsize(tmp)
        if clamd(b"PING") != "PONG":
            return jsonify(error="scan_failed"), 503
        verdict = clamd(b"SCAN " + tmp.encode())
        if verdict.endswith("FOUND"):
            sig = verdict.rsplit(": ", 1)[-1][:-len(" FOUND")]
            return jsonify(error="infected", signature=sig), 422
        if not verdict.endswith("OK"):
            return jsonify(error="scan_failed", detail=verdict), 503
        now = datetime.datetime.now(datetime.timezone.utc)
        final_dir = os.path.join(UPLOAD_DIR, category, now.strftime("%Y/%m/%d"))
        os.makedirs(final_dir, exist_ok=True)
        final = os.path.join(final_dir, f"{uuid.uuid4().hex}.{ext}")
        os.rename(tmp, final)
        tmp = None
        uid = record(user=request.headers.get("X-User"), original_name=name,
                     stored_name=final, size=size, category=category,
                     mime=mime, sha256=h.hexdigest(), scan="clean",
                     status="stored", reason=None,
                     client_addr=request.remote_addr,
                     created_at=now.isoformat())
        return jsonify(id=uid, filename=name, size=size, mime=mime,
                       sha256=h.hexdigest(), category=category,
                       status="stored"), 201
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
