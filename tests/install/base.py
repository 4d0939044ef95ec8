"""Base roots of the install test: clean Debian 12 systems made with
mmdebstrap from this machine's apt sources, with everything the test needs
that is not ours already installed, cached as tarballs.

A base is keyed by a hash of what goes into it (its package list, its
hooks, the apt sources and BASE_VERSION), so a changed list makes a new
base and an unchanged one is reused: /var/cache/gatehouse-install-test/
base-KIND-HASH.tar.zst.  Older tarballs of the same kind are removed when a
new one is made; one older than MAX_AGE is made again.
"""

import hashlib
import os
import pathlib
import subprocess
import time

# Bump when the way a base is made changes in a way the hash cannot see.
BASE_VERSION = "1"

# A base is made again after this long, so that it follows the archive's
# (security) updates rather than test last month's Postfix.
MAX_AGE = 14 * 86400
CACHE = pathlib.Path(os.environ.get("GH_INSTALL_CACHE",
                                    "/var/cache/gatehouse-install-test"))
SOURCES = pathlib.Path("/etc/apt/sources.list.d/debian.sources")
SUITE = "bookworm"
HOSTNAME = "mail.example.org"

# The shared libraries our packages link (dpkg-shlibdeps' ${shlibs:Depends}
# of the four packages), so `apt install ./*.deb` downloads nothing; apt
# still fetches whatever is missing, and the run says so.  systemd: a
# Debian 12 server has it (its tools, not its init, are what maintainer
# scripts call: systemd-sysusers, systemd-tmpfiles, deb-systemd-helper).
RUNTIME = ["systemd", "libcurl4", "libinih1", "libjansson4", "liblmdb0",
           "libssl3", "libclamav12", "libmilter1.0.1", "libmagic1",
           "libpam0g", "libpam-runtime", "libpam-modules"]
# What the checks use: dkimpy (python3-nacl for Ed25519 signatures), ip
# for lo, ps for the logs.
TOOLS = ["python3", "python3-dkim", "python3-nacl", "iproute2", "procps"]

# Services never start while packages install (the test starts each one
# itself, from its unit); kept in the root, like a container's.
POLICY_RC_D = ("printf '#!/bin/sh\\n# install test: no service starts on "
               "install\\nexit 101\\n' > \"$1/usr/sbin/policy-rc.d\" && "
               "chmod 0755 \"$1/usr/sbin/policy-rc.d\"")
# The host's names, and the mail domain's own address standing in for DNS
# (the checks run with no network but lo, and Sendmail refuses senders
# whose domain does not resolve).  Not an alias of this host: Sendmail
# would rewrite From: to the canonical name.
NAMES = (f"echo {HOSTNAME} > \"$1/etc/hostname\" && "
         f"printf '127.0.0.1 localhost\\n127.0.1.1 {HOSTNAME} mail\\n"
         f"192.0.2.1 {HOSTNAME.split('.', 1)[1]}\\n"
         f"::1 localhost ip6-localhost ip6-loopback\\n' > \"$1/etc/hosts\"")

# The MTA as an admin installs it: with its recommended packages (Sendmail's
# local mailer is sensible-mda, a dependency of the "sendmail" package
# only), which mmdebstrap would leave out.
INSTALL = ("chroot \"$1\" env DEBIAN_FRONTEND=noninteractive apt-get "
           "install -y -o APT::Install-Recommends=true ")

KINDS = {
    # Postfix as Debian installs it (debconf: Internet Site, the mail
    # name), its default master.cf (smtpd, cleanup... chrooted), nginx and
    # pamtester.
    "postfix": {
        "include": RUNTIME + TOOLS + ["nginx", "pamtester"],
        "hooks": [
            POLICY_RC_D,
            NAMES,
            f"echo {HOSTNAME.split('.', 1)[1]} > \"$1/etc/mailname\"",
            "printf '%s\\n' "
            "'postfix postfix/main_mailer_type select Internet Site' "
            f"'postfix postfix/mailname string {HOSTNAME.split('.', 1)[1]}' "
            "| chroot \"$1\" debconf-set-selections",
            INSTALL + "postfix",
        ],
    },
    # Debian's sendmail instead (sendmail-bin, its m4 configuration kit).
    "sendmail": {
        "include": RUNTIME + TOOLS + ["make"],
        "hooks": [
            POLICY_RC_D,
            NAMES,
            INSTALL + "sendmail m4",
        ],
    },
}


def key(kind):
    spec = KINDS[kind]
    h = hashlib.sha256()
    for part in ([BASE_VERSION, kind, SUITE] + sorted(spec["include"]) +
                 spec["hooks"] + [SOURCES.read_text()]):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def path(kind):
    return CACHE / f"base-{kind}-{key(kind)}.tar.zst"


def ensure(kind, log):
    """The cached tarball of this kind of base, made now if missing.
    Returns (path, made)."""
    tarball = path(kind)
    if tarball.exists() and time.time() - tarball.stat().st_mtime < MAX_AGE:
        return tarball, False
    CACHE.mkdir(parents=True, exist_ok=True)
    spec = KINDS[kind]
    tmp = tarball.with_name(tarball.name + f".tmp{os.getpid()}")
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root",
           "--format=tar", "--include=" + ",".join(spec["include"])]
    # The MTA is installed by a hook, after the names it asks for and the
    # debconf answers are in place.
    cmd += ["--customize-hook=" + h for h in spec["hooks"]]
    # apt's lists stay (mmdebstrap removes them by default), so that
    # installing our packages can fetch a missing dependency offline-first.
    cmd += ["--skip=cleanup/apt/lists"]
    cmd += [SUITE, str(tmp) + ".tar", str(SOURCES)]
    with open(log, "w") as out:
        out.write("$ " + " ".join(repr(c) for c in cmd) + "\n")
        out.flush()
        r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            pathlib.Path(str(tmp) + ".tar").unlink(missing_ok=True)
            raise RuntimeError(f"mmdebstrap failed ({r.returncode}); see {log}")
        r = subprocess.run(["zstd", "-q", "-T0", "-3", "--rm", "-f",
                            str(tmp) + ".tar", "-o", str(tmp)],
                           stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError(f"zstd failed; see {log}")
    os.replace(tmp, tarball)
    for old in CACHE.glob(f"base-{kind}-*.tar.zst"):
        if old != tarball:
            old.unlink()
    return tarball, True
