#!/usr/bin/python3
"""The libclamav engine's memory with several nginx workers
(make bench-engine-mem; bench/README.md).

The module compiles its engine once, in nginx's master, before the workers
fork: they share its pages copy-on-write.  This starts nginx with
`worker_processes 4` (BENCH_WORKERS), the module and the large generated
database of bench/clamdb/gen.py (generated into build/bench/clamdb if
missing), makes every worker scan files (the listening socket has
`reuseport`, so new connections spread over the workers; the X-Worker
header says who answered), and reads each process's proportional set size
(Pss) from /proc/PID/smaps_rollup:

  steady    the master and 4 workers, after each worker scanned
  reload    a reload whose signatures changed (one more signature file),
            while a slow upload holds every old worker: old workers, new
            workers and the master alive at once
  kept      a reload that changed no signature (the engine is kept)

The anchor, from the same run, is one engine's size: the master's resident
memory grown by compiling it (its "clamav engine compiled in master" log
line).  Targets: workers' total Pss <= 1.3 x one engine;
during a reload <= 2.3 x.  Were every worker to compile its own engine
after fork, private to it, 4 workers would hold 4 engines (4.0 x by
construction, and a reload 8.0 x).  BENCH_WORKERS, BENCH_SCANS (scans per
worker), BENCH_CLAMDB (another database) and BENCH_KEEP=1 (keep the nginx
prefix) change the run.  Needs root (workers run as nobody) and build/nginx/ngx_http_gatehouse_module.so.
"""
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "build/nginx/ngx_http_gatehouse_module.so"
DB = pathlib.Path(os.environ.get("BENCH_CLAMDB", ROOT / "build/bench/clamdb"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
PER_WORKER = int(os.environ.get("BENCH_SCANS", "8"))   # scans per worker
WORKER_USER = "nobody"
COMPILED = "clamav engine compiled in master"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(p))
    return sorted(out)


def rollup(pid):
    """Pss, Rss, Private_Dirty, Shared_Clean+Shared_Dirty in KiB."""
    v = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                v[k] = int(rest.split()[0])
    return v


def body(n, boundary="gh-bench-boundary"):
    """A multipart body with one text file of n bytes (scanned whole)."""
    text = (b"engine memory benchmark line\n" * (n // 29 + 1))[:n]
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; "
            f"filename=\"bench.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            ).encode() + text + f"\r\n--{boundary}--\r\n".encode()


def head(port, length, boundary="gh-bench-boundary"):
    return (f"POST /scan HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
            ).encode()


def upload(port, data):
    """One upload on a new connection: (status, worker pid)."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(head(port, len(data)) + data)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    status = int(resp.split(b" ", 2)[1])
    m = re.search(rb"\r\nX-Worker: (\d+)", resp, re.I)
    return status, int(m.group(1)) if m else 0


def scan_everywhere(port, workers, per_worker):
    """Upload until every worker in workers answered per_worker scans."""
    count = {w: 0 for w in workers}
    data = body(16 * 1024)
    for _ in range(per_worker * len(workers) * 20):
        status, pid = upload(port, data)
        if status != 201:
            sys.exit(f"bench: upload answered {status}")
        if pid in count:
            count[pid] += 1
        if min(count.values()) >= per_worker:
            return count
    sys.exit(f"bench: not every worker scanned: {count}")


def slow_uploads(port, n):
    """n uploads whose body never finishes: each holds the worker that
    accepted it through a graceful shutdown."""
    socks = []
    data = body(64 * 1024)
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(head(port, len(data)) + data[:1024])
        socks.append(s)
    return socks


def wait_log(logf, cond, what, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = logf.read_text(errors="replace") if logf.exists() else ""
        if cond(text):
            return text
        time.sleep(0.1)
    sys.exit(f"bench: no {what}:\n{logf.read_text()[-3000:]}")


def engine_kib(line):
    m = re.search(r"resident memory \+(\d+) KiB", line)
    return int(m.group(1))


def report(title, procs, engine, target=None):
    rows = []
    total_w = 0
    for role, pid in procs:
        try:
            r = rollup(pid)
        except OSError:
            continue            # an old worker that just left
        rows.append((role, pid, r))
        if role != "master":
            total_w += r["Pss"]
    total = sum(r["Pss"] for _, _, r in rows)
    print(f"\n{title}")
    print(f"  {'process':14s} {'pid':>7s} {'Rss MiB':>9s} {'Pss MiB':>9s} "
          f"{'private MiB':>12s}")
    for role, pid, r in rows:
        private = r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
        print(f"  {role:14s} {pid:7d} {r['Rss'] / 1024:9.1f} "
              f"{r['Pss'] / 1024:9.1f} {private / 1024:12.1f}")
    ratio = total_w / engine
    line = (f"  workers' Pss {total_w / 1024:.1f} MiB = {ratio:.2f} x one "
            f"engine; with the master {total / 1024:.1f} MiB = "
            f"{total / engine:.2f} x")
    if target:
        line += f"   (target <= {target} x: " + \
            ("met)" if ratio <= target else "NOT met)")
    print(line)
    return ratio


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (nginx's workers run as nobody)")
    if not MODULE.exists():
        sys.exit(f"bench: {MODULE} missing: make programs")
    # deterministic and a few seconds: made again each run unless given
    if "BENCH_CLAMDB" not in os.environ:
        subprocess.run(["/usr/bin/python3", str(ROOT / "bench/clamdb/gen.py"),
                        str(DB)], check=True)
    load = os.getloadavg()
    print(f"engine memory, {WORKERS} workers, database {DB} "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{os.cpu_count()} cpus)")

    work = pathlib.Path(tempfile.mkdtemp(prefix="gh-bench-engine-"))
    os.chmod(work, 0o755)
    pw = pwd.getpwnam(WORKER_USER)
    for d in ("logs", "tmp", "conf", "files", "store", "clamtmp", "db"):
        (work / d).mkdir()
    for d in ("files", "store"):
        os.chown(work / d, pw.pw_uid, pw.pw_gid)
    # the database, by links (no copy): the reload adds one file beside
    db = work / "db"
    for f in DB.iterdir():
        if f.suffix in (".ndb", ".hdb"):
            os.link(f, db / f.name) if os.stat(f).st_dev == \
                os.stat(db).st_dev else shutil.copy(f, db / f.name)
    os.chmod(db, 0o755)
    (work / "gatehouse.conf").write_text(
        f"[store]\npath = {work}/store\nsync = no\n")
    port = free_port()
    conf = work / "conf/nginx.conf"
    conf.write_text(f"""\
load_module {MODULE};
daemon off;
worker_processes {WORKERS};
user {WORKER_USER} nogroup;
thread_pool default threads=2;
error_log {work}/logs/error.log notice;
pid {work}/logs/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_max_body_size 0;
    client_body_temp_path {work}/tmp;
    client_body_timeout 300s;
    gatehouse_conf {work}/gatehouse.conf;
    gatehouse_clamav_db {db};
    gatehouse_clamav_tmp {work}/clamtmp/t;
    server {{
        listen 127.0.0.1:{port} reuseport;
        location = /scan {{
            gatehouse_upload on;
            gatehouse_upload_dir {work}/files;
            gatehouse_upload_category notes txt mime=text/plain;
            add_header X-Worker $pid always;
        }}
    }}
}}
""")
    logf = work / "logs/error.log"
    t0 = time.monotonic()
    proc = subprocess.Popen([NGINX, "-p", str(work), "-c", str(conf)])
    master = proc.pid
    holds = []
    try:
        log = wait_log(logf, lambda t: "start worker process" in t,
                       "start")
        line = next(ln for ln in log.splitlines() if COMPILED in ln)
        engine = engine_kib(line)
        print(f"start: {time.monotonic() - t0:.1f} s; "
              + line.split("gatehouse: ", 1)[1])
        print(f"one engine (anchor): {engine / 1024:.1f} MiB")
        deadline = time.monotonic() + 30
        while len(children(master)) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = children(master)
        count = scan_everywhere(port, workers, PER_WORKER)
        print("scans per worker:", " ".join(str(c) for c in count.values()))
        steady = report("steady: master + workers",
                        [("master", master)] +
                        [("worker", w) for w in workers], engine, 1.3)

        # a reload whose signatures changed, every old worker held
        holds = slow_uploads(port, 8 * WORKERS)
        (db / "gatehouse-bench-extra.ndb").write_text(
            "Gatehouse.Bench.Extra:0:*:" + b"gatehouse reload".hex() + "\n")
        ncompiled = log.count(COMPILED)
        t1 = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        log = wait_log(logf, lambda t: t.count(COMPILED) > ncompiled,
                       "compile after the reload")
        line = [ln for ln in log.splitlines() if COMPILED in ln][-1]
        print(f"\nreload: compiled in {time.monotonic() - t1:.1f} s; "
              + line.split("gatehouse: ", 1)[1])
        deadline = time.monotonic() + 30
        while (len(set(children(master)) - set(workers)) < WORKERS
               and time.monotonic() < deadline):
            time.sleep(0.05)
        new = sorted(set(children(master)) - set(workers))
        old = sorted(set(children(master)) & set(workers))
        scan_everywhere(port, new, PER_WORKER)
        during = report(f"during the reload: {len(old)} old workers held "
                        f"by slow uploads, {len(new)} new ones",
                        [("master", master)] +
                        [("old worker", w) for w in old] +
                        [("new worker", w) for w in new], engine, 2.3)
        for s in holds:
            s.close()
        holds = []
        deadline = time.monotonic() + 60
        while set(children(master)) & set(old) and \
                time.monotonic() < deadline:
            time.sleep(0.1)

        # a reload that changed nothing keeps the engine
        workers = children(master)
        holds = slow_uploads(port, 8 * WORKERS)
        nkept = log.count("clamav engine kept")
        proc.send_signal(signal.SIGHUP)
        log = wait_log(logf, lambda t: t.count("clamav engine kept") > nkept,
                       "kept engine")
        deadline = time.monotonic() + 30
        while (len(set(children(master)) - set(workers)) < WORKERS
               and time.monotonic() < deadline):
            time.sleep(0.05)
        new = sorted(set(children(master)) - set(workers))
        old = sorted(set(children(master)) & set(workers))
        scan_everywhere(port, new, PER_WORKER)
        kept = report(f"a reload with unchanged signatures (engine kept): "
                      f"{len(old)} old workers held, {len(new)} new ones",
                      [("master", master)] +
                      [("old worker", w) for w in old] +
                      [("new worker", w) for w in new], engine)
        print(f"\nsummary: one engine {engine / 1024:.1f} MiB; workers' "
              f"Pss / engine: steady {steady:.2f} (target 1.3), during a "
              f"reload {during:.2f} (target 2.3), reload kept {kept:.2f}; "
              f"per-worker engines (before): {WORKERS}.00 by construction")
    finally:
        for s in holds:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.environ.get("BENCH_KEEP"):
            print("kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
