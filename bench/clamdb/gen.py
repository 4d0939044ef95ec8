#!/usr/bin/python3
"""A large, deterministic ClamAV signature database for the engine memory
benchmark (bench/upload/engine_mem.sh): NDB body signatures (random byte
strings, which libclamav keeps in its Aho-Corasick matcher) and HDB hash
signatures (MD5 and size, kept in its hash tables).

    bench/clamdb/gen.py OUTDIR [--ndb N] [--hdb N] [--len BYTES]

The bytes come from SHAKE-256 of a fixed seed, so the same arguments give
the same files on every machine; nothing in them matches a real file.
Writes OUTDIR/gatehouse-bench.ndb and OUTDIR/gatehouse-bench.hdb (through
a temporary file and a rename) and prints what it wrote.  The defaults
give an engine of about 400 MiB resident (libclamav 1.4.6: 1.5 million
signatures, about 460 MiB of files, a few seconds to write).  Generated files
belong under build/, never in git.
"""
import argparse
import hashlib
import os
import pathlib
import sys
import time

CHUNK = 4096     # signatures per SHAKE block


def stream(seed, n, size):
    """n byte strings of size bytes, deterministic in seed."""
    done = 0
    block = 0
    while done < n:
        k = min(CHUNK, n - done)
        data = hashlib.shake_256(b"%s:%d" % (seed, block)).digest(k * size)
        for i in range(k):
            yield data[i * size:(i + 1) * size]
        done += k
        block += 1


def write(path, lines):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    return path.stat().st_size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--ndb", type=int, default=500_000,
                    help="body signatures (default 500000)")
    ap.add_argument("--hdb", type=int, default=1_000_000,
                    help="hash signatures (default 1000000)")
    ap.add_argument("--len", type=int, default=400, dest="length",
                    help="bytes per body signature (default 400)")
    a = ap.parse_args()
    if a.length < 8 or a.ndb < 0 or a.hdb < 0:
        ap.error("--len must be at least 8, counts not negative")
    a.outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    ndb = write(a.outdir / "gatehouse-bench.ndb", (
        f"Gatehouse.Bench.Body.{i}:0:*:{b.hex()}\n"
        for i, b in enumerate(stream(b"gatehouse-bench-ndb", a.ndb,
                                     a.length))))
    hdb = write(a.outdir / "gatehouse-bench.hdb", (
        f"{b[:16].hex()}:{1024 + int.from_bytes(b[16:20], 'big') % 1048576}"
        f":Gatehouse.Bench.Hash.{i}\n"
        for i, b in enumerate(stream(b"gatehouse-bench-hdb", a.hdb, 20))))
    print(f"{a.outdir}: {a.ndb} body signatures of {a.length} bytes "
          f"({ndb // 1048576} MiB), {a.hdb} hash signatures "
          f"({hdb // 1048576} MiB), {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
