"""Every installed binary answers --help and --version the same way: usage
on stdout and exit 0; "NAME VERSION" with the one version of the Makefile
(`make version`); a bad option gets the usage on stderr and exit 64."""
import subprocess

import pytest

from ghtest import BUILD, ROOT

# What `make install` installs (DIST), by installed name.
BINARIES = ["gatehouse", "gatehouse-milter", "gatehouse-notifyd",
            "gatehouse-bridge"]


@pytest.fixture(scope="module")
def version():
    p = subprocess.run(["make", "-s", "--no-print-directory", "version"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60,
                       check=True)
    v = p.stdout.strip()
    assert v and "\n" not in v
    return v


def run(name, *args):
    return subprocess.run([str(BUILD / name), *args], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", BINARIES)
@pytest.mark.parametrize("opt", ["--version", "-V"])
def test_version(name, opt, version):
    p = run(name, opt)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == f"{name} {version}"
    assert p.stderr == ""


@pytest.mark.parametrize("name", BINARIES)
@pytest.mark.parametrize("opt", ["--help", "-h"])
def test_help(name, opt):
    p = run(name, opt)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"usage: {name} ")
    assert "--version" in p.stdout and "--help" in p.stdout
    assert p.stderr == ""


@pytest.mark.parametrize("name", BINARIES)
def test_bad_option_is_a_usage_error(name):
    p = run(name, "--no-such-option")
    assert p.returncode == 64
    assert p.stdout == ""
    assert "usage:" in p.stderr
