"""One real browser round trip: type, attach, send, see the image reply, click a chip, reload, still there.

Debian chromium driven by Playwright (never `playwright install`). In CI the browser is required; on a
developer machine without /usr/bin/chromium the test is skipped with the command that installs it.
"""

import os
import shutil

import pytest
from PIL import Image

from tests.server_util import Server, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian chromium: apt-get install -y chromium")
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    data = tmp_path_factory.mktemp("browser") / "data"
    data.mkdir()
    server = Server(data, free_port()).start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(90_000)
        yield server, page
        browser.close()
    server.stop()


def bot_images(page):
    return page.locator("#chat [data-testid=bot] img")


@pytest.fixture
def photo(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def send(page, text, attach=None):
    """Type (and attach), then press the send button, like a person."""
    if attach is not None:
        page.locator("#msg input[type=file]").set_input_files(str(attach))
        page.wait_for_selector("#msg img, #msg .thumbnail-item, #msg [data-testid=file]", timeout=30_000)
    page.fill("#msg textarea", text)
    page.locator("#msg [data-testid=submit-button], #msg button.submit-button").first.click()


def test_type_attach_send_chip_reload(browser_page, photo):
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    send(page, "make it black and white", attach=photo)

    bot_images(page).first.wait_for()
    assert page.locator("#chat").inner_text().count("What ran") >= 1
    chips = page.locator("#chat button.option")
    chips.first.wait_for()
    labels = chips.all_inner_texts()
    assert any("Upscale" in label or "black and white" in label or "Not what I meant" in label for label in labels), labels

    # a chip that image_edit can always do
    target = next((i for i, label in enumerate(labels) if "brighter" in label.lower() or "black and white" in label.lower()
                   or "crop" in label.lower() or "sharpen" in label.lower()), 0)
    before = bot_images(page).count()
    chips.nth(target).click()
    page.wait_for_function(
        f"document.querySelectorAll('#chat [data-testid=bot] img').length > {before}", timeout=90_000)
    page.wait_for_selector("#gallery img")
    page.screenshot(path=str(server.data_dir.parent / "after-chip.png"), full_page=True)

    after = bot_images(page).count()
    page.reload(wait_until="load")
    page.wait_for_function(
        f"document.querySelectorAll('#chat [data-testid=bot] img').length >= {after}", timeout=60_000)
    assert "make it black and white" in page.locator("#chat").inner_text()


def test_erase_asks_for_the_brush_and_a_painted_stroke_is_erased(browser_page, photo):
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    send(page, "erase the flag on the left", attach=photo)
    page.wait_for_function("document.querySelector('#chat').innerText.includes('brush')", timeout=90_000)

    canvas = page.locator("#brush canvas").first
    canvas.wait_for()
    page.wait_for_timeout(2000)  # the editor draws the image before it takes strokes
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 100, cy - 100)
    page.mouse.down()
    for i in range(30):
        page.mouse.move(cx - 100 + i * 2, cy - 100 + i * 3, steps=2)
    page.mouse.up()
    send(page, "erase it")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Erased the painted area')",
                           timeout=90_000)
    assert bot_images(page).count() >= 1
