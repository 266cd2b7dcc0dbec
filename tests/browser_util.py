"""Driving the page in Debian's chromium with Playwright, as a person would: the browser's flags, a skip (or in
CI a failure) when chromium is missing, and small actions — attach, send, time the echo, paint a stroke, wait for
text in the chat. Never `playwright install`: it would download a browser.
"""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Debian's chromium, or a skip with the command that installs it (a failure in CI, where it must run)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian chromium: apt-get install -y chromium")
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")


def bot_images(page):
    return page.locator("#chat [data-testid=bot] img")


def chat_text(page) -> str:
    return page.locator("#chat").inner_text()


def attach(page, path):
    page.locator("#msg input[type=file]").set_input_files(str(path))
    page.wait_for_selector("#msg img, #msg .thumbnail-item, #msg [data-testid=file]", timeout=30_000)


def send(page, text, attach_path=None):
    """Type (and attach), then press the send button, like a person."""
    if attach_path is not None:
        attach(page, attach_path)
    page.fill("#msg textarea", text)
    page.locator("#msg [data-testid=submit-button], #msg button.submit-button").first.click()


def send_and_time_echo(page, text) -> float:
    """Press Enter and return the milliseconds until the message shows in the chat."""
    page.fill("#msg textarea", text)
    page.evaluate("""(w) => { window.__t0 = performance.now(); window.__echo = null;
        const chat = document.querySelector('#chat');
        const seen = new MutationObserver(() => {
            if (window.__echo === null && chat.innerText.includes(w)) { window.__echo = performance.now() - window.__t0; seen.disconnect(); }
        });
        seen.observe(chat, {subtree: true, childList: true, characterData: true}); }""", text)
    page.keyboard.press("Enter")
    page.wait_for_function("window.__echo !== null", timeout=30_000)
    return page.evaluate("window.__echo")


def paint(page, box):
    """One short stroke on the left of the image (each mouse event costs the software-rendered canvas a lot)."""
    x, y = box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.3
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 9):
        page.mouse.move(x + i * 5, y + i * 8)
    page.mouse.up()


def wait_text(page, text, timeout=90_000):
    page.wait_for_function(f"document.querySelector('#chat').innerText.includes({text!r})", timeout=timeout)
