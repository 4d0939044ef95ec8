"""The module loads into Debian's nginx, and `nginx -t` accepts good
directive values and refuses bad ones with a clear message naming the
file and line."""
import os
import re

import pytest

LOCATION = """\
        location /u {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
{snippet}
        }}
"""

GOOD_HTTP = """\
    gatehouse_conf {prefix}/conf/gatehouse.conf;
    gatehouse_store {prefix}/store;
    gatehouse_clamav_db {prefix}/conf/nginx.conf;
    gatehouse_clamav_limits max_filesize=20m max_scansize=100m
                            max_recursion=10 max_files=1000 max_scantime=30s;
    gatehouse_upload_max_file_size 10m;
    gatehouse_upload_refused_records 5 window=10m total=100;
"""

GOOD_LOCATION = """\
            gatehouse_upload_max_file_size 2m;
            gatehouse_upload_max_files 5;
            gatehouse_upload_category images png jpg;
            gatehouse_upload_category notes txt MD mime=text/plain mime=text/*;
            gatehouse_upload_user $remote_user;
            gatehouse_upload_on_scan_error accept;
            gatehouse_upload_on_scan_limit accept;
            gatehouse_upload_on_store_error accept;
            gatehouse_upload_scan on;
            gatehouse_upload_quarantine {quarantine};
            gatehouse_thread_pool default;
            gatehouse_upload_pass /app/upload;
"""


def write(n, snippet="", http="", server=None):
    if server is None:
        server = LOCATION.format(uploads=n.uploads, snippet=snippet)
    n.write(server=server, http=http.format(prefix=n.prefix))


def test_module_loads_and_good_values_pass(nginx_conf):
    n = nginx_conf
    server = LOCATION.format(
        uploads=n.uploads,
        snippet=GOOD_LOCATION.format(quarantine=n.prefix / "quarantine"))
    server += """\
        location /uploads/status/ {
            gatehouse_upload_status;
            gatehouse_upload_user $remote_user;
        }
"""
    write(n, http=GOOD_HTTP, server=server)
    r = n.test()
    assert r.returncode == 0, r.stderr


def test_defaults_pass(nginx_conf):
    write(nginx_conf)
    r = nginx_conf.test()
    assert r.returncode == 0, r.stderr


BAD_LOCATION = [
    ("gatehouse_upload_max_file_size 10q;", "invalid value"),
    ("gatehouse_upload_max_file_size -1;", "invalid value"),
    ("gatehouse_upload_max_files 0;", "value must be between 1 and 1000"),
    ("gatehouse_upload_max_files 5000;", "value must be between 1 and 1000"),
    ("gatehouse_upload_max_files many;", "invalid number"),
    ("gatehouse_upload_category Images png;", "invalid category name"),
    ("gatehouse_upload_category images .png;", 'invalid extension ".png"'),
    ("gatehouse_upload_category images p_g;", 'invalid extension "p_g"'),
    ("gatehouse_upload_category images abcdefghijklmnopq;",
     "invalid extension"),
    ("gatehouse_upload_category images;", "invalid number of arguments"),
    ("gatehouse_upload_category scripts sh;",
     "give its types with mime=TYPE"),
    ("gatehouse_upload_category notes txt mime=text;",
     'invalid MIME type "text"'),
    ("gatehouse_upload_category notes txt mime=*/*;", "invalid MIME type"),
    ("gatehouse_upload_category images png;\n"
     "gatehouse_upload_category media png mime=video/mp4;",
     'extension "png" is already in category "images"'),
    ("gatehouse_upload_category images png PNG;",
     'extension "png" is given twice'),
    ("gatehouse_upload_category images png;\n"
     "gatehouse_upload_category images jpg;", "is given twice"),
    ("gatehouse_upload_user;", "invalid number of arguments"),
    ("gatehouse_upload_user $a $b;", "invalid number of arguments"),
    ("gatehouse_upload_on_scan_error ignore;",
     'it must be "reject" or "accept"'),
    ("gatehouse_upload_pass app/upload;", 'invalid "gatehouse_upload_pass"'),
    ("gatehouse_upload_pass /a;\ngatehouse_upload_pass /b;", "is duplicate"),
    ("gatehouse_upload_dir /tmp;", '"gatehouse_upload_dir" directive is '
     "duplicate"),
    ("gatehouse_clamav_db /tmp;", '"gatehouse_clamav_db" directive is not '
     "allowed here"),
    ("gatehouse_store /tmp;", '"gatehouse_store" directive is not allowed '
     "here"),
    ("proxy_pass http://127.0.0.1:9;", "already has a content handler"),
    ("gatehouse_upload_on_scan_limit flag;",
     'it must be "reject" or "accept"'),
    ("gatehouse_upload_on_store_error retry;",
     'it must be "reject" or "accept"'),
    ("gatehouse_upload_scan on;", 'no "gatehouse_clamav_db" is set'),
    ("gatehouse_upload_scan yes;", 'it must be "on" or "off"'),
    ("gatehouse_upload_status;",
     '"gatehouse_upload_status" and "gatehouse_upload on" in the same'),
    ("gatehouse_upload_quarantine /nonexistent/dir/q;",
     "its parent directory does not exist"),
    ("gatehouse_thread_pool nosuch;", 'unknown thread pool "nosuch"'),
    ("gatehouse_conf /tmp/x.conf;", '"gatehouse_conf" directive is not '
     "allowed here"),
    ("gatehouse_clamav_limits max_files=5;", '"gatehouse_clamav_limits" '
     "directive is not allowed here"),
]


@pytest.mark.parametrize("snippet,message", BAD_LOCATION,
                         ids=[b[0].split()[0] + str(i)
                              for i, b in enumerate(BAD_LOCATION)])
def test_bad_location_values_fail(nginx_conf, snippet, message):
    write(nginx_conf, snippet)
    r = nginx_conf.test()
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "nginx.conf:" in r.stderr       # file and line named


BAD_HTTP = [
    ("gatehouse_clamav_db /nonexistent/db;", "No such file or directory"),
    ("gatehouse_clamav_db {prefix}/conf/nginx.conf;\n"
     "gatehouse_clamav_db {prefix}/conf/nginx.conf;", "is duplicate"),
    ("gatehouse_store /nonexistent/dir/store;",
     "neither it nor its parent directory exists"),
    ("gatehouse_store {prefix}/conf/nginx.conf;", "is not a directory"),
    ("gatehouse_conf /nonexistent/gatehouse.conf;",
     'gatehouse_conf "/nonexistent/gatehouse.conf": not found'),
    ("gatehouse_conf {prefix}/conf/nginx.conf;", "gatehouse_conf"),
    ("gatehouse_clamav_limits max_files=0;", 'invalid value in '
     '"max_files=0"'),
    ("gatehouse_clamav_limits max_filesize=big;", "invalid value"),
    ("gatehouse_clamav_limits max_depth=3;", 'unknown limit "max_depth=3"'),
    ("gatehouse_clamav_limits max_scantime=0;", 'invalid value in '
     '"max_scantime=0"'),
    ("gatehouse_clamav_limits max_scantime=soon;", "invalid value"),
    ("gatehouse_clamav_limits max_scantime=2d;", "invalid value"),
]


@pytest.mark.parametrize("http,message", BAD_HTTP)
def test_bad_http_values_fail(nginx_conf, http, message):
    write(nginx_conf, http=http)
    r = nginx_conf.test()
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_bad_flag_fails(nginx_conf):
    write(nginx_conf, server="        location /v { gatehouse_upload maybe; }\n")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert 'it must be "on" or "off"' in r.stderr, r.stderr


def test_missing_upload_dir_fails(nginx_conf):
    write(nginx_conf, server="        location /u { gatehouse_upload on; }\n")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert 'no "gatehouse_upload_dir" is set' in r.stderr, r.stderr


def test_bad_upload_dirs_fail(nginx_conf):
    write(nginx_conf, server="        location /u { gatehouse_upload on; "
                             "gatehouse_upload_dir /nonexistent/up; }\n")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert "No such file or directory" in r.stderr, r.stderr

    write(nginx_conf, server="        location /u { gatehouse_upload on; "
                             f"gatehouse_upload_dir {nginx_conf.conf}; }}\n")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert "is not a directory" in r.stderr, r.stderr


def test_inherited_on_conflicts_with_proxy_pass(nginx_conf):
    """gatehouse_upload on at server level reaches a proxy_pass location:
    refused, so uploads cannot bypass the checks there."""
    write(nginx_conf, server=f"""\
        gatehouse_upload on;
        gatehouse_upload_dir {nginx_conf.uploads};
        location /api {{ proxy_pass http://127.0.0.1:9; }}
""")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert "already has a content handler" in r.stderr, r.stderr

    write(nginx_conf, server=f"""\
        gatehouse_upload on;
        gatehouse_upload_dir {nginx_conf.uploads};
        location /api {{ gatehouse_upload off; proxy_pass http://127.0.0.1:9; }}
""")
    r = nginx_conf.test()
    assert r.returncode == 0, r.stderr


def test_gatehouse_conf_errors_name_the_key(nginx_conf):
    nginx_conf.write_ghconf("[nginx]\nlock_timeout = soon\n")
    write(nginx_conf, http=f"gatehouse_conf {nginx_conf.ghconf};")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert "lock_timeout" in r.stderr and "gatehouse.conf:" in r.stderr, \
        r.stderr

    nginx_conf.write_ghconf("[nginx]\nlock_timeout = 250ms\n")
    r = nginx_conf.test()
    assert r.returncode == 0, r.stderr


def test_status_needs_a_store(nginx_conf):
    write(nginx_conf, server="        location /s/ { gatehouse_upload_status; }\n")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert 'needs "gatehouse_store" or "gatehouse_conf"' in r.stderr, \
        r.stderr


def test_quarantine_on_another_file_system_fails(nginx_conf):
    import os
    other = "/dev/shm"
    if os.stat(other).st_dev == os.stat(nginx_conf.uploads).st_dev:
        pytest.skip("/dev/shm is on the upload directory's file system")
    write(nginx_conf, f"gatehouse_upload_quarantine {other}/gh-q;")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert "is not on the file system of gatehouse_upload_dir" in r.stderr, \
        r.stderr


def test_sample_site_conf_passes(nginx_conf):
    """conf/nginx-gatehouse.conf.sample, with its paths moved into the
    test's prefix, is a valid configuration."""
    from ngx_support import ROOT, make_clamav_db
    n = nginx_conf
    n.write_ghconf(f"[tokens]\nkey_file = {n.prefix}/conf/token.key\n")
    n.gh("tokens", "keygen")
    sample = (ROOT / "conf" / "nginx-gatehouse.conf.sample").read_text()
    db = make_clamav_db(n.prefix / "clamav")
    sample = (sample
              .replace("/etc/gatehouse/gatehouse.conf", str(n.ghconf))
              .replace("/var/lib/clamav", str(db))
              .replace("/run/nginx-gatehouse-clamav", str(n.prefix / "clamtmp"))
              .replace("/srv/uploads", str(n.uploads))
              .replace("listen 443 ssl http2;",
                       f"listen 127.0.0.1:{n.port};"))
    n.conf.parent.joinpath("site.conf").write_text(sample)
    n.write(http=f"    include {n.conf.parent / 'site.conf'};\n",
            main="thread_pool gatehouse threads=2;")
    # BASE_CONF has a server of its own on the same port: move it
    n.conf.write_text(n.conf.read_text().replace(
        f"listen 127.0.0.1:{n.port};\n        listen 127.0.0.1:{n.port2} "
        "http2;", f"listen 127.0.0.1:{n.port2};"))
    r = n.test()
    assert r.returncode == 0, r.stderr


def parse_nginx_conf(text):
    """An nginx configuration as a tree of blocks: {"words": the block's
    directive ([] for the file), "directives": [[name, args...]],
    "blocks": [...]}.  Enough for the samples: comments, quotes, braces."""
    text = re.sub(r"#[^\n]*", "", text)
    top = {"words": [], "directives": [], "blocks": []}
    stack, words = [top], []
    for tok in re.findall(r"[{};]|\"[^\"]*\"|'[^']*'|[^\s{};]+", text):
        if tok == "{":
            block = {"words": words, "directives": [], "blocks": []}
            stack[-1]["blocks"].append(block)
            stack.append(block)
            words = []
        elif tok == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        elif tok == ";":
            stack[-1]["directives"].append(words)
            words = []
        else:
            words.append(tok.strip("\"'"))
    assert len(stack) == 1 and not words, "unbalanced braces"
    return top


def exposed_upload_dirs(text):
    """Every root or alias of the configuration that serves (part of) an
    upload or quarantine directory to client requests: one not in an
    internal or named location.  [(location, directive)]"""
    conf = parse_nginx_conf(text)
    dirs = set()

    def collect(block):
        for d in block["directives"]:
            if d[0] in ("gatehouse_upload_dir", "gatehouse_upload_quarantine"):
                dirs.add(os.path.normpath(d[1]))
        for b in block["blocks"]:
            collect(b)
    collect(conf)
    assert dirs, "no gatehouse_upload_dir in the configuration"

    def overlaps(path):
        path = os.path.normpath(path)
        return any(path == u or u.startswith(path.rstrip("/") + "/")
                   or path.startswith(u + "/") for u in dirs)

    found = []

    def walk(block, location):
        if block["words"][:1] == ["location"]:
            location = block
        for d in block["directives"]:
            if d[0] in ("root", "alias") and len(d) > 1 and overlaps(d[1]):
                hidden = location is not None and (
                    location["words"][-1].startswith("@")
                    or ["internal"] in location["directives"])
                if not hidden:
                    found.append((" ".join(location["words"]) if location
                                  else " ".join(block["words"]), " ".join(d)))
        for b in block["blocks"]:
            walk(b, location)
    walk(conf, None)
    return found


def test_exposure_check_finds_aliases():
    """The check below can fail: an alias, a root above the directory, a
    root for the whole server; not an internal or named location."""
    up = "location = /u { gatehouse_upload on; gatehouse_upload_dir /srv/up; }\n"
    for bad in ("location /files/ { alias /srv/up/; }",
                "location /f/ { auth_request /a; alias /srv/up/images/; }",
                "location / { root /srv; }",
                "root /srv/up;",
                "location /q/ { alias '/srv/up/.quarantine'; }"):
        assert exposed_upload_dirs(f"server {{ {up} {bad}\n}}"), bad
    for good in ("location /s/ { internal; alias /srv/up/; }",
                 "location @app { root /srv/up; }",
                 "location /static/ { alias /srv/upload-site/; }",
                 "# location /files/ { alias /srv/up/; }"):
        assert not exposed_upload_dirs(f"server {{ {up} {good}\n}}"), good


def test_sample_site_conf_exposes_no_upload_directory():
    """conf/nginx-gatehouse.conf.sample serves no upload or quarantine
    directory to clients (which would hand out every upload, unchecked, by
    its stored name): stored files go out through signed links, at /dl/,
    where docs/nginx.md and docs/tokens.md say they are."""
    from ngx_support import ROOT
    sample = (ROOT / "conf" / "nginx-gatehouse.conf.sample").read_text()
    assert exposed_upload_dirs(sample) == []

    downloads = []

    def walk(block):
        if ["gatehouse_download"] in block["directives"]:
            downloads.append(block["words"])
        for b in block["blocks"]:
            walk(b)
    walk(parse_nginx_conf(sample))
    assert downloads == [["location", "/dl/"]]
    nginx_md = (ROOT / "docs" / "nginx.md").read_text()
    tokens_md = (ROOT / "docs" / "tokens.md").read_text()
    assert "location /dl/           { gatehouse_download; }" in nginx_md
    for doc in (nginx_md, tokens_md):
        assert "https://HOST/dl/ID?t=TOKEN" in doc
        assert "/files/" not in doc


@pytest.mark.parametrize("args,message", [
    ("many", "invalid number"),
    ("-1", "invalid number"),
    ("5 window=0s", "invalid value"),
    ("5 window=8d", "invalid value"),
    ("5 total=lots", "invalid value"),
    ("5 every=1h", "unknown parameter"),
])
def test_refused_records_bad_values(nginx_conf, args, message):
    write(nginx_conf, http=f"gatehouse_upload_refused_records {args};")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert message in r.stderr and "gatehouse_upload_refused_records" \
        in r.stderr, r.stderr


def test_refused_records_only_in_http(nginx_conf):
    write(nginx_conf, snippet="gatehouse_upload_refused_records 5;")
    r = nginx_conf.test()
    assert r.returncode != 0
    assert "not allowed here" in r.stderr, r.stderr
