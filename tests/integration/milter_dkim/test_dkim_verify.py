"""Independent verification of the milter's DKIM signatures.

build/tests/dkim-sign-file (tests/integration/milter_dkim/dkim_sign_file.c)
signs each message of a corpus of hard cases with the milter's DKIM core,
feeding it like the milter does (fields one by one, body in chunks of
pseudo-random size).  Two verifiers that share no code with ours check the
result:

  * dkimpy (Debian python3-dkim; python3-nacl for Ed25519), public keys
    given through its dnsfunc argument;
  * Perl's Mail::DKIM (libmail-dkim-perl), public keys given through
    Mail::DKIM::DNS's resolver hook (verify_mail_dkim.pl).  Debian 12's
    Mail::DKIM predates Ed25519, so it checks RSA signatures only.

Keys are made at test time with the openssl command, and the DNS records
the verifiers get are derived from them with openssl too, not with our
code (our record text is compared against them separately).

Negative controls (tampered bodies, added oversigned fields) make sure
both verifiers can fail here.
"""
import base64
import os
import pathlib
import random
import shutil
import subprocess
import time

import dkim  # python3-dkim (and python3-nacl), from scripts/install-deps
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
DRIVER = ROOT / "build" / "tests" / "dkim-sign-file"
PERL_VERIFIER = pathlib.Path(__file__).resolve().parent / "verify_mail_dkim.pl"
DOMAIN = "example.com"
CANONS = ["simple/simple", "relaxed/relaxed", "relaxed/simple", "simple/relaxed"]
ALGOS = ["rsa", "ed25519"]
NOW = int(time.time())

CRLF = b"\r\n"


# ---------------------------------------------------------------- corpus

def message(headers, body, eol=CRLF):
    """Header lines (folding written as \\n inside an entry) plus body."""
    text = eol.join(h.replace(b"\n", eol) for h in headers)
    return text + eol + eol + body


BASE = [
    b"From: Joe Sender <joe@example.com>",
    b"To: Alice <alice@example.net>",
    b"Subject: Hello",
    b"Date: Mon, 01 Jan 2024 10:00:00 +0000",
    b"Message-ID: <1234@example.com>",
]


def case_plain():
    return message(BASE, b"Hello.\r\n\r\nBye.\r\n")


def case_folded_long_headers():
    rcpts = b",\n\t".join(b"user%02d@example.net" % i for i in range(40))
    refs = b"\n ".join(b"<ref-%04d-%s@example.org>" % (i, b"x" * 30) for i in range(40))
    return message([
        b"From: Joe Sender <joe@example.com>",
        b"To: " + rcpts,
        b"Subject: a subject folded\n   over several\n\tlines with\n \t mixed\n\twhitespace  ",
        b"References: " + refs,
        b"X-Long-Single: " + b"y" * 900,
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000",
        b"Message-ID: <folded@example.com>",
    ], b"Body.\r\n")


def case_duplicate_headers():
    return message([
        b"Received: from a by b; Mon, 01 Jan 2024 10:00:03 +0000",
        b"Received: from c by d; Mon, 01 Jan 2024 10:00:02 +0000",
        b"From: Joe Sender <joe@example.com>",
        b"To: first@example.net",
        b"Cc: cc1@example.net",
        b"Subject: first subject",
        b"To: second@example.net",
        b"Comments: one",
        b"Cc: cc2@example.net",
        b"Subject: second subject",
        b"Comments: two",
        b"To: third@example.net",
        b"Received: from e by f; Mon, 01 Jan 2024 10:00:01 +0000",
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000",
    ], b"dups\r\n")


def case_empty_body():
    return message(BASE, b"")


def case_headers_only():
    # No empty line at all: the message ends after its last field.
    return CRLF.join(BASE) + CRLF


def case_only_blank_lines():
    return message(BASE, CRLF * 50)


def case_trailing_whitespace():
    body = (b"trailing spaces   \r\n"
            b"trailing tabs\t\t\r\n"
            b"mixed \t \t\r\n"
            b"  leading spaces\r\n"
            b"\tleading tab\r\n"
            b"inner   runs\t\tof  \t whitespace\r\n"
            b"   \r\n"
            b"\t\r\n"
            b"\r\n"
            b"last text line \t\r\n"
            b" \t \r\n"
            b"\r\n"
            b"   \r\n")
    return message(BASE[:2] + [
        b"Subject:   spaced   subject \t ",
        b"X-Trailing: value\t \t",
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000",
    ], body)


def case_utf8_headers():
    return message([
        "From: Jürgen Müller <jm@example.com>".encode(),
        "To: 山田 太郎 <taro@example.net>".encode(),
        "Subject: Grüße — naïve café ☕ 日本語の件名".encode(),
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000",
    ], "Привет, мир!\r\nΚαλημέρα κόσμε  \r\n€uro ½\r\n".encode())


def case_dot_lines():
    body = b".\r\n..\r\n.leading dot\r\n..double\r\n . spaced\r\nend\r\n.\r\n"
    return message(BASE, body)


def case_lines_998():
    line = b"L" * 998
    header = b"X-Exactly-998: " + b"h" * (998 - len(b"X-Exactly-998: "))
    assert len(header) == 998
    body = CRLF.join([line, b"short", line + b"", b"x" * 997 + b" "]) + CRLF
    return message(BASE + [header], body)


def case_attachment_10mb():
    data = random.Random(1).randbytes(10 * 1024 * 1024)
    b64 = base64.encodebytes(data).replace(b"\n", CRLF)  # 76-char lines
    body = (b"--BOUNDARY\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"See the attachment.\r\n\r\n"
            b"--BOUNDARY\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n"
            + b64 +
            b"--BOUNDARY--\r\n")
    return message(BASE + [
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"",
    ], body)


def case_lf_only():
    headers = BASE[:2] + [b"Subject: folded\n\twith LF only  ",
                          b"Date: Mon, 01 Jan 2024 10:00:00 +0000"]
    body = b"line one  \nline\t\ttwo\n\n.dot\n\n\n"
    return message(headers, body, eol=b"\n")


def case_many_headers():
    headers = list(BASE)
    headers += [b"X-Header-%03d: value %d" % (i, i) for i in range(300)]
    headers += [b"To: extra%02d@example.net" % i for i in range(20)]
    return message(headers, b"many\r\n")


def case_odd_values():
    return message([
        b"FROM: Joe Sender <joe@example.com>",
        b"to: alice@example.net",
        b"sUbJeCt:",
        b"X-Empty:",
        b"X-Only-Spaces:    ",
        b"X-Folded-Blank: a\n \n b",
        b"X-Colons: a:b::c: ",
        b"DATE: Mon, 01 Jan 2024 10:00:00 +0000",
    ], b"odd\r\n")


CASES = {
    "plain": case_plain,
    "folded_long_headers": case_folded_long_headers,
    "duplicate_headers": case_duplicate_headers,
    "empty_body": case_empty_body,
    "headers_only": case_headers_only,
    "only_blank_lines": case_only_blank_lines,
    "trailing_whitespace": case_trailing_whitespace,
    "utf8_headers": case_utf8_headers,
    "dot_lines": case_dot_lines,
    "lines_998": case_lines_998,
    "attachment_10mb": case_attachment_10mb,
    "lf_only": case_lf_only,
    "many_headers": case_many_headers,
    "odd_values": case_odd_values,
}
BIG = {"attachment_10mb"}


def to_crlf(data):
    """What the MTA puts on the wire: every bare LF becomes CRLF."""
    return data.replace(CRLF, b"\n").replace(b"\n", CRLF)


# ---------------------------------------------------------------- keys

def openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True,
                          timeout=120, **kw).stdout


def public_record(pem_path, algo):
    """DNS record text derived with openssl alone."""
    der = openssl("pkey", "-in", str(pem_path), "-pubout", "-outform", "DER")
    if algo == "ed25519":
        # SubjectPublicKeyInfo of Ed25519 = 12-byte prefix + raw 32-byte key.
        assert len(der) == 44
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("milter_dkim")
    yield d
    shutil.rmtree(d, ignore_errors=True)  # the corpus is large


@pytest.fixture(scope="module")
def keys(workdir):
    """selector -> (algo, pem path, record text)."""
    if not DRIVER.exists():
        pytest.fail(f"{DRIVER} is missing: run make first")
    specs = {
        "rsa": ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
        "ed25519": ("ed25519", ["-algorithm", "ED25519"]),
        "rsa1024": ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
        "rsa4096": ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"]),
    }
    out = {}
    for sel, (algo, args) in specs.items():
        pem = workdir / f"{sel}.pem"
        openssl("genpkey", *args, "-out", str(pem))
        out[sel] = (algo, pem, public_record(pem, algo))
    return out


def records_of(keys):
    return {f"{sel}._domainkey.{DOMAIN}": rec for sel, (_, _, rec) in keys.items()}


def sign(keys, msg_path, canon, selectors, extra=(), big=False):
    """Run the driver; return the DKIM-Signature field(s) as bytes."""
    cmd = [str(DRIVER), "-d", DOMAIN, "-c", canon, "-t", str(NOW), "-r",
           "-b", "65535" if big else "13"]
    cmd += list(extra)
    for sel in selectors:
        if keys[sel][0] == "ed25519":
            cmd += ["-x", str(NOW + 86400)]   # x= on Ed25519 signatures
        else:
            cmd += ["-x", "0"]
        cmd += ["-s", sel, "-k", str(keys[sel][1])]
    cmd.append(str(msg_path))
    proc = subprocess.run(cmd, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout.startswith(b"DKIM-Signature:")
    return proc.stdout


# ---------------------------------------------------------------- verifiers

def dkimpy_verify(message, keys, idx=0):
    """(ok, log) from dkimpy for the idx-th signature."""
    records = records_of(keys)
    log = []

    class Log:
        def debug(self, *a):
            log.append(" ".join(str(x) for x in a))
        info = warning = error = debug

    def dnsfunc(name, timeout=5):
        rec = records.get(name.decode().rstrip(".").lower())
        return rec.encode() if rec else None

    d = dkim.DKIM(message, logger=Log())
    try:
        ok = d.verify(idx=idx, dnsfunc=dnsfunc)
    except dkim.DKIMException as e:   # malformed signature etc.
        return False, f"{e!r} {log}"
    return ok, log


def perl_verify(keys, files, workdir):
    """{path: [(index, result, detail), ...]} from Mail::DKIM."""
    keyfile = workdir / "keys.tsv"
    keyfile.write_text("".join(f"{n}\t{r}\n" for n, r in records_of(keys).items()))
    proc = subprocess.run(["perl", str(PERL_VERIFIER), str(keyfile),
                           *[str(f) for f in files]],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        path, idx, result, detail = line.split("\t", 3)
        out.setdefault(path, []).append((idx, result, detail))
    return out


# ---------------------------------------------------------------- signing the corpus

@pytest.fixture(scope="module")
def corpus(workdir):
    """case -> path of the unsigned message."""
    out = {}
    for name, make in CASES.items():
        p = workdir / f"{name}.eml"
        p.write_bytes(make())
        out[name] = p
    return out


@pytest.fixture(scope="module")
def signed(corpus, keys, workdir):
    """(case, canon, algo) -> signed message as the MTA would send it.

    algo "dual" is one pass making an RSA and an Ed25519 signature.
    """
    out = {}
    for case, path in corpus.items():
        wire = to_crlf(path.read_bytes())
        for canon in CANONS:
            for algo in ALGOS + ["dual"]:
                if algo == "dual" and canon not in ("simple/simple", "relaxed/relaxed"):
                    continue
                sels = ["rsa", "ed25519"] if algo == "dual" else [algo]
                sig = sign(keys, path, canon, sels, big=case in BIG)
                f = workdir / f"{case}.{canon.replace('/', '-')}.{algo}.signed.eml"
                f.write_bytes(sig + wire)
                out[(case, canon, algo)] = f
    return out


@pytest.fixture(scope="module")
def perl_results(signed, keys, workdir):
    files = [f for (case, canon, algo), f in signed.items() if algo != "ed25519"]
    return perl_verify(keys, files, workdir)


# ---------------------------------------------------------------- tests

def test_key_records_match_openssl(keys):
    """Our DNS record text equals the one derived with openssl."""
    for sel, (algo, pem, rec) in keys.items():
        got = subprocess.run([str(DRIVER), "-p", str(pem)], capture_output=True,
                             text=True, check=True).stdout.strip()
        assert got == rec, sel


PARAMS = [(c, k, a) for c in CASES for k in CANONS for a in ALGOS]


@pytest.mark.parametrize("case,canon,algo", PARAMS)
def test_dkimpy(signed, keys, case, canon, algo):
    data = signed[(case, canon, algo)].read_bytes()
    ok, log = dkimpy_verify(data, keys)
    assert ok, log
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"a=%s-sha256;" % algo.encode() in head
    assert b"c=%s;" % canon.encode() in head


@pytest.mark.parametrize("case,canon", [(c, k) for c in CASES for k in CANONS])
def test_mail_dkim_rsa(perl_results, signed, case, canon):
    f = str(signed[(case, canon, "rsa")])
    assert perl_results.get(f) == [("0", "pass", "pass")], perl_results.get(f)


@pytest.mark.parametrize("case,canon", [(c, k) for c in CASES
                                        for k in ("simple/simple", "relaxed/relaxed")])
def test_dual_signature(signed, keys, perl_results, case, canon):
    """One pass, two signatures: dkimpy passes both, Mail::DKIM the RSA one."""
    f = signed[(case, canon, "dual")]
    data = f.read_bytes()
    for idx in (0, 1):
        ok, log = dkimpy_verify(data, keys, idx)
        assert ok, (idx, log)
    res = perl_results.get(str(f))
    assert res[0] == ("0", "pass", "pass"), res
    # Debian 12's Mail::DKIM cannot check Ed25519; it must say so, not pass.
    assert res[1][:2] == ("1", "invalid") and "ed25519" in res[1][2], res


@pytest.mark.parametrize("canon", CANONS)
def test_lf_only_as_given(keys, corpus, canon):
    """dkimpy also accepts the LF-only file itself (it maps LF to CRLF),
    with the signature in the driver's -l form (what smfi_insheader gets)."""
    for algo in ALGOS:
        sig = sign(keys, corpus["lf_only"], canon, [algo], extra=["-l"])
        assert b"\r" not in sig
        ok, log = dkimpy_verify(sig + corpus["lf_only"].read_bytes(), keys)
        assert ok, log


@pytest.mark.parametrize("sel", ["rsa1024", "rsa4096"])
def test_rsa_key_sizes(keys, corpus, workdir, sel):
    for canon in ("simple/simple", "relaxed/relaxed"):
        sig = sign(keys, corpus["plain"], canon, [sel])
        f = workdir / f"plain.{sel}.{canon.replace('/', '-')}.eml"
        f.write_bytes(sig + corpus["plain"].read_bytes())
        ok, log = dkimpy_verify(f.read_bytes(), keys)
        assert ok, log
        assert perl_verify(keys, [f], workdir)[str(f)] == [("0", "pass", "pass")]


def tampered(data, how):
    head, body = data.split(b"\r\n\r\n", 1)
    if how == "body":
        return head + b"\r\n\r\n" + body.replace(b"Hello.", b"Hellp.")
    if how == "from_on_top":
        # A second From above the signed one (oversigned: must break it).
        return b"From: Mallory <m@evil.example>\r\n" + data
    if how == "subject_at_end":
        return head + b"\r\nSubject: Buy now\r\n\r\n" + body
    if how == "unsigned_field":
        return head + b"\r\nX-Mailer: added later\r\n\r\n" + body
    if how == "refold_and_pad":
        head = head.replace(b"Subject: Hello", b"Subject:   \r\n\t Hello \t")
        return head + b"\r\n\r\n" + body.replace(b"Hello.", b"Hello.   ") + b"\r\n\r\n"
    raise AssertionError(how)


@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/relaxed"])
@pytest.mark.parametrize("how,rsa_ok", [
    ("body", False),
    ("from_on_top", False),
    ("subject_at_end", False),
    ("unsigned_field", True),
    ("refold_and_pad", None),   # passes only under relaxed/relaxed
])
def test_negative_controls(signed, keys, workdir, canon, how, rsa_ok):
    """The verifiers do fail here when they should."""
    expect = rsa_ok if rsa_ok is not None else canon == "relaxed/relaxed"
    for algo in ALGOS:
        data = tampered(signed[("plain", canon, algo)].read_bytes(), how)
        ok, log = dkimpy_verify(data, keys)
        assert ok == expect, (algo, log)
    f = workdir / f"tampered.{how}.{canon.replace('/', '-')}.eml"
    f.write_bytes(tampered(signed[("plain", canon, "rsa")].read_bytes(), how))
    res = perl_verify(keys, [f], workdir)[str(f)]
    assert (res[0][1] == "pass") == expect, res


def test_driver_rejects_bad_input(keys, workdir):
    bad = workdir / "bad.eml"
    bad.write_bytes(b" leading continuation\r\n\r\nbody\r\n")
    proc = subprocess.run([str(DRIVER), "-s", "rsa", "-k", str(keys["rsa"][1]),
                           str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1 and "header" in proc.stderr
    nofrom = workdir / "nofrom.eml"
    nofrom.write_bytes(b"To: a@example.net\r\n\r\nbody\r\n")
    proc = subprocess.run([str(DRIVER), "-s", "rsa", "-k", str(keys["rsa"][1]),
                           str(nofrom)], capture_output=True, text=True)
    assert proc.returncode == 1 and "signing" in proc.stderr
