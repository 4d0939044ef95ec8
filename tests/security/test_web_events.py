"""Applications' events from the web domain (docs/security.md, the events
API of docs/api.md): the core's [events_api] decides which types the web
domain may raise beyond upload.*, and on what terms.  nginx checks the
same for a quick answer, but a compromised worker skips nginx: here the
web uid writes its outbox directly, and only the core's checks stand."""
from secenv import USERS, wait_until

POLICY = """
[events_api]
types = app.* order.* *
action_url_prefix = https://app.example.org/
"""


def running(sec, policy=POLICY):
    sec.write_conf(policy)
    sec.init()
    sec.start_notifyd()
    sec.start_bridge("web")
    return sec


def web_enqueue(sec, *args):
    """As the web uid, straight into its outbox (no nginx)."""
    sec.gh("--domain", "web", "events", "enqueue", "--user", "bob", *args,
           user=USERS["web"])


def core_titles(sec):
    return [e["title"] for e in sec.events()]


def dead_in_outbox(sec, title):
    return wait_until(lambda: [e for e in sec.events("web", "dead")
                               if e["title"] == title], 20,
                      f"{title!r} dead-lettered in the web outbox")[0]


def test_the_core_decides_which_types(sec):
    # "*" in the list still gives no other part's types
    running(sec, POLICY.replace(" *\n", "\n"))
    web_enqueue(sec, "--type", "billing.invoice", "--title", "not listed")
    web_enqueue(sec, "--type", "app.comment", "--title", "listed",
                "--category", "social")
    ev = wait_until(lambda: [e for e in sec.events()
                             if e["title"] == "listed"], 20, "listed")[0]
    assert ev["source"] == "app" and ev["category"] == "social"
    dead = dead_in_outbox(sec, "not listed")
    assert "[events_api] types" in dead["q"]["last_error"]
    assert "not listed" not in core_titles(sec)
    # the bridge's refusal is said by the core, once per event
    assert "refused: the web domain may raise only upload.* events and " \
        "[events_api] types, not 'billing.invoice'" in sec.log("notifyd")


def test_a_wildcard_never_reaches_other_parts_types(sec):
    running(sec)
    for t in ("login.new_host", "mail.rejected", "digest", "store.x"):
        web_enqueue(sec, "--type", t, "--title", f"forged {t}")
    for t in ("login.new_host", "mail.rejected", "digest", "store.x"):
        dead_in_outbox(sec, f"forged {t}")
    assert not [x for x in core_titles(sec) if x.startswith("forged")]


def test_security_category_is_not_honoured(sec):
    running(sec)
    web_enqueue(sec, "--type", "app.alert", "--title", "fake breach",
                "--category", "security", "--priority", "urgent")
    dead = dead_in_outbox(sec, "fake breach")
    assert "security" in dead["q"]["last_error"]
    assert "fake breach" not in core_titles(sec)
    # upload.* keeps its type's category whatever it says, as before
    web_enqueue(sec, "--type", "upload.stored", "--title", "says security",
                "--category", "security")
    ev = wait_until(lambda: [e for e in sec.events()
                             if e["title"] == "says security"], 20, "it")[0]
    assert ev["category"] == "system" and ev["source"] == "nginx"
    # and urgent is the admin's
    web_enqueue(sec, "--type", "app.alert", "--title", "loud",
                "--priority", "urgent")
    ev = wait_until(lambda: [e for e in sec.events()
                             if e["title"] == "loud"], 20, "loud")[0]
    assert ev["priority"] == 3


def test_links_only_under_the_prefix(sec):
    running(sec)
    web_enqueue(sec, "--type", "app.x", "--title", "phish",
                "--action-url", "https://evil.example/login")
    web_enqueue(sec, "--type", "app.x", "--title", "phish2",
                "--action-url", "https://app.example.org.evil.example/")
    web_enqueue(sec, "--type", "app.x", "--title", "fine",
                "--action-url", "https://app.example.org/orders/9")
    ev = wait_until(lambda: [e for e in sec.events()
                             if e["title"] == "fine"], 20, "fine")[0]
    assert ev["action_url"] == "https://app.example.org/orders/9"
    for t in ("phish", "phish2"):
        dead = dead_in_outbox(sec, t)
        assert "action_url" in dead["q"]["last_error"]
    # upload.* may still name no link at all, and app events no channels
    # or addresses
    web_enqueue(sec, "--type", "upload.stored", "--title", "upl link",
                "--action-url", "https://app.example.org/x")
    web_enqueue(sec, "--type", "app.x", "--title", "chan",
                "--channel", "sms")
    web_enqueue(sec, "--type", "app.x", "--title", "addr",
                "--recipient", "mail:victim@example.org")
    for t in ("upl link", "chan", "addr"):
        dead_in_outbox(sec, t)
    assert not {"phish", "phish2", "upl link", "chan", "addr"} & \
        set(core_titles(sec))


def test_without_events_api_the_web_domain_raises_upload_only(sec):
    running(sec, "")
    web_enqueue(sec, "--type", "app.x", "--title", "no policy")
    dead = dead_in_outbox(sec, "no policy")
    assert "upload.*" in dead["q"]["last_error"]
