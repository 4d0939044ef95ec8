"""The multi-host mode's world (docs/cluster.md), all on loopback:

NatsCluster  three nats-server processes with JetStream and cluster routes,
             store directories under the test's tmp dir, free ports, and
             a user per trust domain (NKeys, nkeys.py) with the
             permissions docs/cluster.md recommends: mail, web and login
             may publish only to PREFIX.events.THEIR_DOMAIN.> and their
             own heartbeat keys, and read only their own reply inboxes;
             core may do everything.
Host         a simulated host: its own store directories (mail, web), a
             gatehouse.conf with [nats], and a gatehouse-bridge per domain.
Notifyd      a gatehouse-notifyd of the delivery fleet: its own store and
             configuration, delivering to a webhook sink (nd_sinks).

Every process is killed at the end of its test, whatever happened.
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "notifyd"))
from ghtest import Gatehouse, free_port, wait_until  # noqa: E402,F401
from nkeys import user_pair  # noqa: E402

ROOT = HERE.parents[2]
BUILD = ROOT / "build"
BRIDGE = BUILD / "gatehouse-bridge"
NOTIFYD = pathlib.Path(os.environ.get("NOTIFYD_BIN") or
                       BUILD / "asan" / "tests" / "gatehouse-notifyd-test")
if not NOTIFYD.is_absolute():
    NOTIFYD = ROOT / NOTIFYD
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
PREFIX = "gatehouse"
DOMAINS = ("core", "mail", "web", "login")


def _shared_read(bucket):
    """What watching one KV bucket needs (docs/cluster.md, "Shared data"):
    its stream's info, ordered consumers on it (created, deleted), their
    flow-control replies; the messages come to the reply inbox.  The
    client finds the stream by the bucket's subject: STREAM.NAMES, which
    tells stream names only."""
    s = f"KV_{PREFIX}_{bucket}"
    return ["$JS.API.STREAM.NAMES",
            f"$JS.API.STREAM.INFO.{s}", f"$JS.API.CONSUMER.CREATE.{s}",
            f"$JS.FC.{s}.>"]


def _perms(dom):
    """A producer domain's permissions: its own events and heartbeat keys,
    its own reply inbox; of the JetStream API only, for mail, reading the
    suppression list's bucket."""
    if dom == "core":
        return None
    pub = [f"{PREFIX}.events.{dom}.*", f"$KV.{PREFIX}_hosts.*.{dom}"]
    if dom == "mail":
        pub += _shared_read("suppress")
    return {"publish": {"allow": pub},
            "subscribe": {"allow": [f"_GH_INBOX.{dom}.>"]}}


class NatsCluster:
    def __init__(self, base, n=3):
        self.base = pathlib.Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.keys = {}
        kdir = self.base / "keys"
        kdir.mkdir()
        for dom in DOMAINS:
            seed, pub = user_pair()
            p = kdir / f"{dom}.nk"
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (seed + "\n").encode())
            os.close(fd)
            self.keys[dom] = (seed, pub, p)
        self.nodes = []
        for i in range(n):
            self.nodes.append({"name": f"n{i + 1}", "port": free_port(),
                               "cport": free_port(), "mport": free_port(),
                               "proc": None})
        for node in self.nodes:
            self._write_conf(node)

    def _write_conf(self, node):
        users = []
        for dom in DOMAINS:
            u = {"nkey": self.keys[dom][1]}
            if _perms(dom):
                u["permissions"] = _perms(dom)
            users.append(u)
        routes = [f"nats://127.0.0.1:{o['cport']}" for o in self.nodes
                  if o is not node]
        store = self.base / node["name"]
        # nats-server reads JSON as its configuration format too
        conf = {"server_name": node["name"], "host": "127.0.0.1",
                "port": node["port"], "http": f"127.0.0.1:{node['mport']}",
                "jetstream": {"store_dir": str(store),
                              "max_memory_store": 64 << 20,
                              "max_file_store": 1 << 30},
                # no_advertise: clients use the URLs they were given, so
                # a host behind the test's proxy stays behind it
                "cluster": {"name": "ghtest", "host": "127.0.0.1",
                            "port": node["cport"], "routes": routes,
                            "no_advertise": True},
                "authorization": {"users": users}}
        node["conf"] = self.base / f"{node['name']}.conf"
        node["conf"].write_text(json.dumps(conf, indent=1))
        node["log"] = self.base / f"{node['name']}.log"

    def start_node(self, node):
        fp = open(node["log"], "ab")
        node["proc"] = subprocess.Popen([NATS_SERVER, "-c", str(node["conf"])],
                                        stdout=fp, stderr=fp)
        fp.close()

    def start(self):
        for node in self.nodes:
            self.start_node(node)
        self.wait_leader()

    def jsz(self, node):
        with urllib.request.urlopen(
                f"http://127.0.0.1:{node['mport']}/jsz", timeout=5) as r:
            return json.loads(r.read())

    def connections(self, name):
        """How many client connections named name (a ghc connection is
        "gatehouse DOMAIN@HOST") the nodes hold together, from each
        node's monitoring endpoint /connz."""
        n = 0
        for node in self.nodes:
            if node["proc"] is None or node["proc"].poll() is not None:
                continue
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{node['mport']}/connz?limit=1024",
                    timeout=5) as r:
                conns = json.loads(r.read()).get("connections") or []
            n += sum(1 for c in conns if c.get("name") == name)
        return n

    def leader(self):
        for node in self.nodes:
            if node["proc"] is None or node["proc"].poll() is not None:
                continue
            try:
                mc = self.jsz(node).get("meta_cluster") or {}
            except OSError:
                continue
            if mc.get("leader"):
                return mc["leader"]
        return None

    def wait_leader(self, timeout=60):
        return wait_until(self.leader, timeout, "a JetStream meta leader",
                          step=0.2)

    def kill_node(self, i):
        node = self.nodes[i]
        node["proc"].send_signal(signal.SIGKILL)
        node["proc"].wait()
        node["proc"] = None

    def urls(self):
        return ", ".join(f"nats://127.0.0.1:{n['port']}" for n in self.nodes)

    def nats_conf(self, host, seed_path=None, extra=""):
        seed = seed_path or (self.base / "keys" / "%d.nk")
        return (f"[nats]\nservers = {self.urls()}\nhost = {host}\n"
                f"nkey_seed = {seed}\nreplicas = 3\nack_wait = 5s\n"
                f"max_deliver = 20\nconnect_timeout = 2s\n{extra}")

    def close(self):
        for node in self.nodes:
            if node["proc"] is not None:
                node["proc"].kill()
                node["proc"].wait()
                node["proc"] = None


class Proc:
    """A daemon with its log file."""

    def __init__(self, cmd, log):
        self.log = pathlib.Path(log)
        fp = open(self.log, "ab")
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen([str(c) for c in cmd], stdout=fp,
                                     stderr=fp, env=e)
        fp.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Host:
    """One simulated host: stores for the mail and web domains and their
    bridges, forwarding to the cluster as `name`."""

    def __init__(self, base, name, cluster, domains=("mail", "web"),
                 nats_extra="", seed_path=None):
        self.base = pathlib.Path(base) / name
        self.base.mkdir(parents=True)
        self.name = name
        self.cluster = cluster
        self.domains = domains
        self.conf = self.base / "gatehouse.conf"
        lines = ["[store]", f"path = {self.base / 'core'}", "sync = no",
                 "lock_timeout = 5s"]
        for d in domains:
            lines.append(f"{d} = {self.base / d}")
        lines += ["", "[notifyd]", "poll_interval = 50ms",
                  f"bridge_socket = {self.base / 'bridge.sock'}", ""]
        self.conf.write_text("\n".join(lines) + "\n" +
                             cluster.nats_conf(name, seed_path, nats_extra))
        self.gh = Gatehouse(self.conf)
        self.gh.run("store", "init")
        self.bridges = {}

    def start_bridge(self, dom):
        self.bridges[dom] = Proc([BRIDGE, "-c", self.conf, dom],
                                 self.base / f"bridge-{dom}.log")
        return self.bridges[dom]

    def start(self):
        for d in self.domains:
            self.start_bridge(d)

    def enqueue(self, dom, title, user="alice", type_=None):
        type_ = type_ or {"mail": "mail.rejected", "web": "upload.infected",
                          "login": "login.new_host"}[dom]
        self.gh.run("--domain", dom, "events", "enqueue", "--user", user,
                    "--type", type_, "--title", title)

    def outbox(self, dom, state=None):
        args = ["--domain", dom, "events", "list", "--limit", "100000"]
        if state:
            args += ["--state", state]
        return self.gh.run(*args, json_out=True)

    def close(self):
        for b in self.bridges.values():
            b.stop(signal.SIGKILL)


class Notifyd:
    """One instance of the delivery fleet."""

    def __init__(self, base, name, cluster, sink, metrics=True):
        self.base = pathlib.Path(base) / name
        self.base.mkdir(parents=True)
        self.name = name
        self.conf = self.base / "gatehouse.conf"
        self.metrics_port = free_port() if metrics else None
        text = (f"[store]\npath = {self.base / 'store'}\nsync = no\n"
                f"lock_timeout = 5s\n\n"
                # a killed instance's leases come back after this (as on
                # a single host): short, for the kill tests
                f"[queue]\nvisibility = 5s\n\n"
                f"[notifyd]\nlog = stderr\nlog_level = info\n"
                f"poll_interval = 50ms\nshutdown_timeout = 5s\n"
                f"default_channels = hook\n"
                f"login_fallback = none\n"
                f"templates = {self.base / 'no-templates'}\n"
                f"shipped_templates = {self.base / 'no-shipped'}\n")
        if metrics:
            text += f"metrics_listen = 127.0.0.1:{self.metrics_port}\n"
        text += (f"\n[channel.hook]\ntype = webhook\nurl = {sink.url('/hook')}\n"
                 f"backoff_base = 100ms\nbackoff_cap = 500ms\n\n")
        self.conf.write_text(text + cluster.nats_conf(name))
        self.gh = Gatehouse(self.conf)
        self.gh.run("store", "init")
        self.p = None

    def start(self):
        assert self.p is None or self.p.proc is None
        self.p = Proc([NOTIFYD, "-c", self.conf], self.base / "notifyd.log")
        if self.metrics_port:
            # ready once it answers on its metrics port (it listens after
            # its store is open): a test reading metrics right after a
            # restart must not race the start, which is slow under ASan
            def up():
                assert self.p.proc.poll() is None, \
                    f"{self.name} exited:\n{self.text()}"
                try:
                    socket.create_connection(
                        ("127.0.0.1", self.metrics_port), timeout=1).close()
                    return True
                except OSError:
                    return False
            wait_until(up, 30, f"{self.name} listening")
        return self.p

    def kill(self):
        if self.p:
            self.p.stop(signal.SIGKILL)

    def stop(self):
        if self.p:
            return self.p.stop()

    def text(self):
        return self.p.text() if self.p else ""

    def metrics(self):
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out
