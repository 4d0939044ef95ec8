#!/usr/bin/python3
"""bench/upload/magic_samples.py DIR - one small file of each type the
nginx module's built-in categories allow (and a few it does not: text,
CSV, JSON, HTML, an ELF), for bench/upload/magic_cost and the detection
tests (tests/integration/nginx_module/test_nginx_magic.py).  Made from scratch
(or, for OLE2 documents, ClamAV's test files when installed), so every
machine gets the same bytes.  Prints the names written."""
import io
import os
import pathlib
import shutil
import struct
import sys
import zipfile
import zlib

TESTFILES = pathlib.Path("/usr/share/clamav-testfiles")


def png(size=1024):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    head = (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) +
            chunk(b"IEND", b""))
    return head + bytes((i * 7) & 0xff for i in range(size - len(head)))


def jpeg():
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01"
            b"\x00\x00" + b"\xff\xdb\x00\x43\x00" + bytes(range(64)) +
            b"\xff\xd9")


def gif():
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
            b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01"
            b"\x00\x00\x02\x02D\x01\x00;")


def webp():
    vp8 = b"VP8L" + struct.pack("<I", 10) + b"\x2f\x00\x00\x00\x00" + \
        b"\x00" * 5
    return b"RIFF" + struct.pack("<I", 4 + len(vp8)) + b"WEBP" + vp8


def pdf():
    return (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
            b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")


def ooxml(kind):
    main = {"docx": ("word/document.xml", "wordprocessingml.document"),
            "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet"),
            "pptx": ("ppt/presentation.xml",
                     "presentationml.presentation")}[kind]
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://'
          'schemas.openxmlformats.org/package/2006/content-types"><Override '
          f'PartName="/{main[0]}" ContentType="application/vnd.openxml'
          f'formats-officedocument.{main[1]}.main+xml"/></Types>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr(main[0], "<doc/>")
    return buf.getvalue()


def zip_():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", "hello " * 100)
    return buf.getvalue()


def rar():
    # RAR 5 signature and a main archive header
    return b"Rar!\x1a\x07\x01\x00" + b"\x33\x92\xb5\xe5\x0a\x01\x05\x06" + \
        b"\x00\x05\x01\x01\x80\x80\x00" + b"\x00" * 32


def sevenz():
    return (b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 24)


def mp3():
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * 4


def mp4(brand=b"isom"):
    ftyp = b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"iso2mp41"
    box = struct.pack(">I", 8 + len(ftyp) - 4) + ftyp
    return box + struct.pack(">I", 8) + b"free" + struct.pack(">I", 16) + \
        b"mdat" + b"\x00" * 8


def riff(form, body):
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body


def wav():
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return riff(b"WAVE", fmt + b"data" + struct.pack("<I", 64) + b"\x00" * 64)


def avi():
    return riff(b"AVI ", b"LIST" + struct.pack("<I", 4 + 64) + b"hdrl" +
                b"avih" + struct.pack("<I", 56) + b"\x00" * 56)


def text():
    return (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
            * 20)[:1024]


SAMPLES = {
    "image.png": png, "image.jpg": jpeg, "image.gif": gif,
    "image.webp": webp, "doc.pdf": pdf,
    "doc.docx": lambda: ooxml("docx"), "doc.xlsx": lambda: ooxml("xlsx"),
    "doc.pptx": lambda: ooxml("pptx"), "arc.zip": zip_, "arc.rar": rar,
    "arc.7z": sevenz, "media.mp3": mp3, "media.mp4": mp4,
    "media.mov": lambda: mp4(b"qt  "), "media.wav": wav, "media.avi": avi,
    "other.txt": text,
    "other.csv": lambda: b"name,size,kind\n" + b"a,1,x\nb,2,y\n" * 60,
    "other.json": lambda: b'{"a": [1, 2, 3], "b": {"c": "d"}}\n' * 30,
    "other.html": lambda: b"<!DOCTYPE html><html><head><title>t</title>"
                          b"</head><body>" + b"<p>x</p>" * 100 +
                          b"</body></html>",
}
# OLE2 documents cannot be made in a few lines: ClamAV's test files
OLE = {"doc.doc": "clam.ole.doc", "doc.ppt": "clam.ppt"}


def write(d):
    d = pathlib.Path(d)
    d.mkdir(parents=True, exist_ok=True)
    names = []
    for name, make in SAMPLES.items():
        (d / name).write_bytes(make())
        names.append(name)
    for name, src in OLE.items():
        if (TESTFILES / src).exists():
            shutil.copyfile(TESTFILES / src, d / name)
            names.append(name)
    if os.path.exists("/bin/true"):
        shutil.copyfile("/bin/true", d / "other.elf")
        names.append("other.elf")
    return names


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: magic_samples.py DIR")
    for n in write(sys.argv[1]):
        print(n)
