"""The example inbox page (examples/inbox/) in Debian's headless chromium,
driven by python3-selenium and chromedriver: served by nginx beside the
inbox API (split stores, real notifyd and web bridge), it lists the user's
notifications, marks one read, and shows a new one arriving live -- all
checked from the page's DOM."""
import shutil
import tempfile

import pytest

from inbox_support import InboxWorld
from ghtest import wait_until

webdriver = pytest.importorskip("selenium.webdriver")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    not CHROMEDRIVER or not CHROMIUM,
    reason="chromium and chromium-driver are not installed "
           "(scripts/install-deps)")


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    prof = tempfile.mkdtemp(prefix="gh-chromium-")
    o = Options()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", f"--user-data-dir={prof}",
              "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
    d.set_page_load_timeout(30)
    yield d
    d.quit()
    shutil.rmtree(prof, ignore_errors=True)


def dom_items(d):
    return d.execute_script(
        "return Array.from(document.querySelectorAll('#list li')).map("
        "li => [Number(li.dataset.id), li.className, "
        "li.querySelector('.title').textContent]);")


def test_example_page_lists_marks_read_and_goes_live(browser):
    w = InboxWorld(split=True).start()
    try:
        e1 = w.notify("kim", "<b>Welcome</b>")
        e2 = w.notify("kim", "Your upload is ready")
        w.wait_delivered("kim", e2)
        w.wait_delivered("kim", e1)
        other = w.notify("lee", "not for kim")
        w.wait_delivered("lee", other)

        d = browser
        base = f"http://127.0.0.1:{w.port}"
        # the application's login would set this; nginx reads the cookie
        d.get(base + "/inbox/index.html")
        d.add_cookie({"name": "gh_user", "value": "kim", "path": "/"})
        d.get(base + "/inbox/index.html")

        items = wait_until(lambda: len(dom_items(d)) == 2 and dom_items(d),
                           20, "the page to list kim's notifications")
        assert [i[0] for i in items] == [e2, e1]
        # the title is text, never markup
        assert items[1][2] == "<b>Welcome</b>"
        assert all("unread" in i[1] for i in items)
        assert d.find_element("id", "unread").text == "2"
        assert other not in [i[0] for i in items]

        d.find_element("css selector",
                       f"#n-{e1} button.mark-read").click()
        wait_until(lambda: "read" in dom_items(d)[1][1].split(), 20,
                   "the item to show as read")
        assert d.find_element("id", "unread").text == "1"
        wait_until(lambda: any(i["read_at"] for i in w.core_inbox("kim")
                               if int(i.get("event", i.get("id"))) == e1),
                   20, "the read mark to reach the core")

        wait_until(lambda: d.find_element("id", "status").text == "live",
                   20, "the page's stream to open")
        e3 = w.notify("kim", "Arrived live", "--message", "over SSE")
        items = wait_until(lambda: dom_items(d)[0][0] == e3 and
                           dom_items(d), 30, "the new item on the page")
        assert items[0][2] == "Arrived live"
        assert d.find_element("id", "unread").text == "2"
    finally:
        w.close()
