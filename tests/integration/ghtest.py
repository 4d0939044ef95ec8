"""Helpers shared by Gatehouse's integration tests (imported by name:
conftest modules of several directories cannot be imported from tests)."""
import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
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


