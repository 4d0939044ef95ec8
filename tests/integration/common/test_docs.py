"""The man pages document what the programs accept.

For gatehouse(1): every command of `gatehouse --help`, every subcommand of
`gatehouse COMMAND --help` (and `gatehouse COMMAND SUB --help`) has an entry
in docs/man/gatehouse.1's COMMANDS, and every option printed for it is in
that entry; the global options are in OPTIONS.  And since --help is only as
good as what it is compared with, every long option a parser in cli/
accepts (the `struct option` tables, the strcmp(argv[i], "--x") tests) is
printed by its command's --help.

The same, more simply, for the daemons: what their parser accepts is in
their --help, and what --help prints is in their man page's OPTIONS.

The man pages are read as roff: macros' arguments (quoted or not,
alternating fonts joined), escapes (\\-, \\fB, \\fR, \\(dq, \\e ...) turned
into the characters they print.
"""
import re
import subprocess

import pytest

from ghtest import BUILD, GATEHOUSE, ROOT

MAN = ROOT / "docs" / "man"
CLI = ROOT / "cli"

# An option as --help prints it: -c, --dry-run; not the "-07" of a time.
OPT = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")

# ---- roff ----

_NAMED = {"dq": '"', "lq": '"', "rq": '"', "oq": "'", "cq": "'", "em": "-",
          "en": "-", "mu": "x", "aq": "'", "ha": "^", "ti": "~", "rs": "\\",
          "bu": "*", "co": "(c)"}
_ESC = re.compile(r"\\(\((..)|\[([^\]]*)\]|[fFn*]"
                  r"(?:\(..|\[[^\]]*\]|.)|.)", re.S)
# Macros that set their arguments in alternating fonts, without spaces.
_ALTERNATING = {"BR", "BI", "IB", "IR", "RB", "RI"}


def _unescape(s):
    def one(m):
        whole = m.group(1)
        if m.group(2) or m.group(3):
            return _NAMED.get(m.group(2) or m.group(3), " ")
        c = whole[0]
        if c in "fFn*":         # font change, register, string: no text
            return ""
        if c in "&|^:c%":       # zero-width
            return ""
        if c in " ~0":
            return " "
        if c in "e\\":
            return "\\"
        return c                # \- and any other: the character
    return _ESC.sub(one, s)


def _macro_args(rest):
    """A macro line's arguments: blanks separate, "..." quotes ("" is ")."""
    args, i = [], 0
    while i < len(rest):
        if rest[i] in " \t":
            i += 1
            continue
        if rest[i] == '"':
            i += 1
            buf = ""
            while i < len(rest):
                if rest[i] == '"':
                    if rest[i + 1:i + 2] == '"':
                        buf += '"'
                        i += 2
                        continue
                    i += 1
                    break
                buf += rest[i]
                i += 1
            args.append(buf)
        else:
            j = i
            while j < len(rest) and rest[j] not in " \t":
                # an escaped blank (\ ) stays in the argument
                j += 2 if rest[j] == "\\" else 1
            args.append(rest[i:j])
            i = j
    return args


def roff_lines(text):
    """[(macro or None, plain text)] for each line of a man page."""
    out = []
    for line in text.splitlines():
        if line.startswith(('.\\"', "'\\\"")) or line.strip() == ".":
            continue
        line = re.sub(r'\\".*', "", line)
        if line[:1] in (".", "'"):
            m = re.match(r"[.'](\S*)\s*(.*)", line)
            name, args = m.group(1), _macro_args(m.group(2))
            sep = "" if name in _ALTERNATING else " "
            out.append((name, _unescape(sep.join(args))))
        else:
            out.append((None, _unescape(line)))
    return out


def squash(s):
    return re.sub(r"\s+", " ", s).strip()


def man_sections(path):
    """{SECTION: [(macro, text)]} of a man page."""
    sections, cur = {}, None
    for name, text in roff_lines(path.read_text()):
        if name == "SH":
            cur = sections.setdefault(text.strip().strip('"'), [])
        elif cur is not None:
            cur.append((name, text))
    return sections


def section_text(lines):
    return squash(" ".join(t for _, t in lines))


def command_entries(lines, commands):
    """The entries of gatehouse(1)'s COMMANDS: a .TP whose tag starts with a
    command's name, outside .RS blocks; [(header words, whole text)]."""
    entries, depth, prev = [], 0, None
    for name, text in lines:
        if name == "RS":
            depth += 1
        elif name == "RE":
            depth = max(0, depth - 1)
        words = squash(text).split()
        if (prev == "TP" and depth == 0 and words and
                words[0] in commands):
            entries.append([words, []])
        if entries:
            entries[-1][1].append(text)
        prev = name
    return [(w, squash(" ".join(t))) for w, t in entries]


def has_opt(text, opt):
    return re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text)


def test_roff_reading():
    lines = roff_lines('.\\" a comment\n'
                       '.B store purge \\fR[\\fB\\-\\-dry\\-run\\fR]\n'
                       '.BI \\-\\-chat " CHANNEL" = VALUE\n'
                       '.BR "{\\(dqa\\(dq: 1}" ;\n'
                       'text \\e with \\fIitalic\\fP\\&.\n')
    assert [t for _, t in lines] == [
        "store purge [--dry-run]", "--chat CHANNEL=VALUE", '{"a": 1};',
        "text \\ with italic."]
    assert not has_opt("--dry-run", "--dry")
    assert has_opt("[--dry-run]", "--dry-run")


# ---- gatehouse(1) against gatehouse --help ----

def run(*args):
    return subprocess.run([str(GATEHOUSE), *args], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def top_help():
    """(command names, their summary lines, the global Options text)."""
    p = run("--help")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    cmds = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    lines = [ln.strip() for ln in cmds.splitlines() if ln.strip()]
    opts = out.split("Options:\n", 1)[1]
    return [ln.split()[0] for ln in lines], lines, opts


def command_help(cmd, sub=None):
    """{sub: option set} of `gatehouse CMD [SUB] --help` (sub None for a
    command without subcommands), and the footer's text."""
    p = run(cmd, *([sub] if sub else []), "--help")
    assert p.returncode == 0, (cmd, sub, p.stderr)
    assert p.stdout.startswith("usage:"), p.stdout
    assert p.stderr == ""
    body, _, footer = p.stdout.partition("\nGlobal options")
    subs, cur = {}, None
    for line in body.splitlines()[1:]:
        m = re.match(rf"gatehouse {re.escape(cmd)}(?: (\S+))?", line)
        if m:
            word = m.group(1) or ""
            cur = word if re.fullmatch(r"[a-z][a-z-]*", word) else None
            subs.setdefault(cur, set())
        elif line and not line.startswith(" "):
            pytest.fail(f"gatehouse {cmd} --help: stray line {line!r}")
        if line:
            assert subs, f"gatehouse {cmd} --help: no 'gatehouse {cmd}' line"
            subs[cur] |= set(OPT.findall(line))
    return subs, footer


@pytest.fixture(scope="module")
def man1():
    return man_sections(MAN / "gatehouse.1")


def test_global_options_documented(man1):
    _, _, opts = top_help()
    found = set(OPT.findall(opts))
    assert {"--config", "--domain", "--json", "--help", "--version"} <= found
    text = section_text(man1["OPTIONS"])
    missing = sorted(o for o in found if not has_opt(text, o))
    assert not missing, f"gatehouse(1) OPTIONS lacks {missing}"


def test_every_subcommand_and_option_documented(man1):
    names, summary, _ = top_help()
    assert len(names) >= 15 and len(set(names)) == len(names)
    entries = command_entries(man1["COMMANDS"], set(names))
    problems = []
    for name, line in zip(names, summary):
        mine = [t for w, t in entries if w[0] == name]
        if not mine:
            problems.append(f"no entry for '{name}'")
            continue
        # the summary line's options: in one of the command's entries
        for o in set(OPT.findall(line)):
            if not any(has_opt(t, o) for t in mine):
                problems.append(f"'{name}': {o} (gatehouse --help)")
        subs, footer = command_help(name)
        for o in set(OPT.findall(footer)):
            if not has_opt(section_text(man1["OPTIONS"]), o):
                problems.append(f"OPTIONS: {o} (gatehouse {name} --help)")
        for sub, opts in subs.items():
            where = f"{name} {sub}" if sub else name
            texts = [t for w, t in entries if w[0] == name and
                     (sub is None or w[1:2] == [sub])]
            if not texts:
                problems.append(f"no entry for '{where}'")
                continue
            for o in sorted(opts):
                if not any(has_opt(t, o) for t in texts):
                    problems.append(f"'{where}': {o}")
            if sub:
                # COMMAND SUB --help prints that entry alone
                only, _ = command_help(name, sub)
                assert only == {sub: opts}, (where, only)
    assert not problems, "docs/man/gatehouse.1 lacks:\n  " + \
        "\n  ".join(problems)


def test_command_help_where_and_only_where_asked(gh):
    p = run("notify", "-h")
    assert p.returncode == 0 and p.stdout.startswith("usage:")
    # tokens reads its keys first: --help answers before that
    p = run("-c", "/nonexistent/gatehouse.conf", "tokens", "make", "--help")
    assert p.returncode == 0 and "--ttl" in p.stdout, p.stderr
    p = run("notify", "--no-such-option")
    assert p.returncode == 64 and p.stdout == ""
    assert "Try 'gatehouse notify --help'." in p.stderr
    # further on, --help is an option's value like any other
    out = gh.run("notify", "alice", "--title", "--help", json_out=True)
    assert gh.run("events", "show", out["id"],
                  json_out=True)["title"] == "--help"


def test_parsers_options_in_help():
    """Every option a cli/ parser accepts is printed by --help."""
    names, _, _ = top_help()
    table = dict(re.findall(r'\{"([a-z]+)",\s*(cmd_\w+),',
                            (CLI / "main.c").read_text()))
    assert sorted(table) == sorted(names), "main.c's table and --help differ"
    by_fn = {fn: cmd for cmd, fn in table.items()}
    helps = {}
    problems = []
    for src in sorted(CLI.glob("*.c")):
        text = src.read_text()
        opts = set(re.findall(r'\{\s*"([a-z][a-z0-9-]*)"\s*,\s*'
                              r'(?:no|required|optional)_argument', text))
        opts |= {o[2:] for o in re.findall(
            r'strcmp\([^,()]+,\s*"(--[a-z][a-z0-9-]*)"\)', text)}
        if not opts:
            continue
        if src.name == "main.c":
            cmds = []
            printed = run("--help").stdout
        else:
            cmds = [by_fn[f] for f in re.findall(r"^(cmd_\w+)\(", text, re.M)
                    if f in by_fn]
            if not cmds:
                problems.append(f"{src.name}: options but no command")
                continue
            for c in cmds:
                if c not in helps:
                    helps[c] = run(c, "--help").stdout
            printed = "".join(helps[c] for c in cmds)
            opts -= {"json"}        # global: gatehouse --help has it
        for o in sorted(opts):
            if not has_opt(printed, "--" + o):
                problems.append(f"{src.name}: --{o} not in "
                                f"'gatehouse {' '.join(cmds[:1])} --help'"
                                if cmds else f"main.c: --{o}")
    assert not problems, "\n".join(problems)


# ---- the daemons ----

DAEMONS = {"gatehouse-milter": ("milter/main.c", "gatehouse-milter.8"),
           "gatehouse-notifyd": ("notifyd/main.c", "gatehouse-notifyd.8"),
           "gatehouse-bridge": ("bridge/main.c", "gatehouse-bridge.8")}


@pytest.mark.parametrize("name", sorted(DAEMONS))
def test_daemon_help_and_man(name):
    src, page = DAEMONS[name]
    p = subprocess.run([str(BUILD / name), "--help"], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    printed = set(OPT.findall(p.stdout))
    accepted = set(re.findall(r'\{\s*"([a-z][a-z0-9-]*)"\s*,\s*'
                              r'(?:no|required|optional)_argument',
                              (ROOT / src).read_text()))
    assert accepted, f"no option table in {src}"
    missing = sorted("--" + o for o in accepted if "--" + o not in printed)
    assert not missing, f"{name} --help lacks {missing}"
    options = section_text(man_sections(MAN / page)["OPTIONS"])
    missing = sorted(o for o in printed if not has_opt(options, o))
    assert not missing, f"{page} OPTIONS lacks {missing}"
