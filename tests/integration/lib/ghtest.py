"""Helpers shared by Gatehouse's integration tests (imported by name:
conftest modules of several directories cannot be imported from tests)."""
import json
import pathlib
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
GATEHOUSE = BUILD / "gatehouse"


class Gatehouse:
    """Runs the gatehouse command against one configuration."""

    def __init__(self, conf):
        self.conf = conf

    def run(self, *args, check=True, json_out=False):
        cmd = [str(GATEHOUSE), "-c", str(self.conf)]
        if json_out:
            cmd.append("--json")
        proc = subprocess.run(cmd + [str(a) for a in args], capture_output=True,
                              text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd + list(args)} exited {proc.returncode}: "
                                 f"{proc.stderr}")
        if json_out and proc.returncode == 0:
            return json.loads(proc.stdout)
        return proc


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=30.0, what="a condition", step=0.05):
    """pred()'s first true value, polling every step seconds; an
    AssertionError naming what after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")
