"""Shared fixtures for Gatehouse's integration tests.

Tests run from the repository root with the programs built under build/
(`make check` builds them first).  Every test gets a fresh store and a
configuration file pointing at it, under pytest's tmp_path.
"""
import json
import os
import pathlib
import subprocess

import pytest

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


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def conf_file(tmp_path, store_dir):
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {store_dir}\nlock_timeout = 10s\n")
    return conf


@pytest.fixture
def gh(conf_file):
    g = Gatehouse(conf_file)
    g.run("store", "init")
    return g
