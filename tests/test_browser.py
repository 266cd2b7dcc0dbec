"""The page in a real browser, as a creator uses it: send, chips, reload; a slow request with Stop; the brush.

Debian chromium driven by Playwright (never `playwright install`). In CI the browser is required; on a
developer machine without /usr/bin/chromium the tests are skipped with the command that installs it. The
server runs with one chat request at a time (`GATEWAY_REQUEST_CONCURRENCY=1`), so "Stop frees the queue slot"
is visible: the next request is answered while the stopped one is still winding down.
"""

import signal
import time

import pytest
from PIL import Image

from tests.browser_util import (ARGS, CHROMIUM, attach, bot_images, chat_text, paint, require_chromium, send,
                                  send_and_time_echo, wait_text)
from tests.server_util import Server, free_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory, request):
    require_chromium()
    from playwright.sync_api import sync_playwright

    data = tmp_path_factory.mktemp("browser") / "data"
    data.mkdir()
    server = Server(data, free_port(), env={"GATEWAY_REQUEST_CONCURRENCY": "1"}).start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(90_000)
        failed_before = request.session.testsfailed
        yield server, page
        if request.session.testsfailed > failed_before:  # for the report: the page and every server thread
            page.screenshot(path=str(data.parent / "at-failure.png"), full_page=True)
            server.proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            print(server.log[-20_000:])
        browser.close()
    server.stop()


@pytest.fixture
def photo(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def test_type_attach_send_chip_reload(browser_page, photo):
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    send(page, "make it black and white", attach_path=photo)

    bot_images(page).first.wait_for()
    assert chat_text(page).count("What ran") >= 1
    chips = page.locator("#chat button.option")
    chips.first.wait_for()
    labels = chips.all_inner_texts()
    assert len(labels) <= 5 and not any("Swap a face" in label for label in labels), labels
    target = next(i for i, label in enumerate(labels) if "brighter" in label.lower() or "contrast" in label.lower()
                  or "crop" in label.lower() or "sharpen" in label.lower() or "vivid" in label.lower())
    before = bot_images(page).count()
    chips.nth(target).click()
    page.wait_for_function(
        f"document.querySelectorAll('#chat [data-testid=bot] img').length > {before}", timeout=90_000)
    page.click("#gallery-panel button, #gallery-panel .label-wrap")
    page.wait_for_selector("#gallery img")
    page.screenshot(path=str(server.data_dir.parent / "after-chip.png"), full_page=True)

    after = bot_images(page).count()
    page.reload(wait_until="load")
    page.wait_for_function(
        f"document.querySelectorAll('#chat [data-testid=bot] img').length >= {after}", timeout=60_000)
    assert "make it black and white" in chat_text(page)


def test_echo_within_a_second_stop_and_the_chat_list_stays_usable_during_a_slow_run(browser_page, tmp_path):
    """Done when: the message shows within 1 s of Enter while a slow request runs, Stop ends it, and the chat
    list stays clickable."""
    server, page = browser_page
    big = tmp_path / "big.png"
    from skimage import data

    Image.fromarray(data.astronaut()).resize((1536, 1536)).save(big)  # a 4x upscale of this takes many seconds
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    send(page, "hello")
    wait_text(page, "Here is what I can do")
    page.click("#new-chat")
    attach(page, big)
    echo_ms = send_and_time_echo(page, "upscale it 4x")
    assert echo_ms < 1000, f"the message showed {echo_ms:.0f} ms after Enter"
    page.wait_for_selector("#stop", state="visible", timeout=5_000)
    page.wait_for_selector("#chat progress", timeout=5_000)  # progress inside the reply bubble
    assert not page.get_by_text("processing |").count()  # no full-page "processing | 3.3/22.2s" overlay

    second_ms = send_and_time_echo(page, "make it brighter")  # a second message while the first runs
    assert second_ms < 1000, f"the second message showed {second_ms:.0f} ms after Enter"
    wait_text(page, "Waiting for your previous request to finish", timeout=10_000)
    page.screenshot(path=str(server.data_dir.parent / "slow-run.png"), full_page=True)

    # the chat list and New chat work while it runs
    page.locator("#sessions label", has_text="hello").click()
    wait_text(page, "Here is what I can do", timeout=10_000)
    assert "upscale it 4x" not in chat_text(page)
    page.locator("#sessions label", has_text="upscale it 4x").click()
    wait_text(page, "upscale it 4x", timeout=10_000)
    page.wait_for_selector("#stop", state="visible", timeout=5_000)
    assert not bot_images(page).count(), "the upscale finished before Stop could be tested"

    started = time.time()
    page.click("#stop")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Stopped')", timeout=5_000)
    assert time.time() - started < 3
    page.wait_for_selector("#stop", state="hidden", timeout=5_000)
    assert "Waiting for your previous request" not in chat_text(page)

    # the queue slot is free at once: with one request at a time, a new chat is answered right away
    page.click("#new-chat")
    send(page, "what can you do?")
    wait_text(page, "Here is what I can do", timeout=20_000)

    # the stopped chat keeps no half-written image
    page.locator("#sessions label", has_text="upscale it 4x").click()
    wait_text(page, "upscale it 4x", timeout=10_000)
    page.wait_for_function("!document.querySelector('#chat').innerText.includes('Waiting for')", timeout=120_000)
    assert bot_images(page).count() == 0


def test_the_brush_opens_by_the_image_and_the_painted_reply_shows_in_the_tab_that_sent_it(browser_page, photo):
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    send(page, "erase the flag on the left", attach_path=photo)
    canvas = page.locator("#brush canvas").first
    canvas.wait_for()
    page.wait_for_timeout(2000)  # the editor draws the image before it takes strokes
    box = canvas.bounding_box()
    assert box["y"] + box["height"] <= 900 + 1, "the image to paint on is below the fold"
    assert page.locator("#brush-erase").bounding_box()["y"] < 900

    other = page.context.new_page()  # a second tab of the same browser, on the same chat
    other.goto(server.url, wait_until="load")
    other.wait_for_selector("#msg textarea")
    page.bring_to_front()
    page.wait_for_timeout(500)

    page.reload(wait_until="load")  # the canvas comes back with the image after a reload
    page.locator("#brush canvas").first.wait_for()
    page.wait_for_timeout(2000)
    paint(page, page.locator("#brush canvas").first.bounding_box())
    page.click("#brush-erase")
    wait_text(page, "Erased the painted area", timeout=90_000)  # in the tab that sent it
    assert bot_images(page).count() >= 1
    page.wait_for_selector("#brush-panel", state="detached", timeout=10_000)  # done: the brush closes
    other.close()


def test_delete_asks_first_clear_is_a_new_chat_and_the_api_link_shows(browser_page):
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.locator("footer").get_by_text("Use via API").first.wait_for(state="visible", timeout=15_000)
    assert page.locator("#chat").get_by_text("Chatbot", exact=True).count() == 0  # no stray "Chatbot" label
    page.click("#new-chat")
    send(page, "what can you do?")
    wait_text(page, "Here is what I can do")
    page.wait_for_selector("#sessions label:has-text('what can you do?')")
    count = page.locator("#sessions label").count()

    page.click("#delete-chat")
    page.wait_for_selector("#delete-question")
    assert "This cannot be undone" in page.locator("#delete-question").inner_text()
    page.click("#delete-no")
    page.wait_for_selector("#delete-question", state="detached")
    assert page.locator("#sessions label").count() == count
    page.click("#delete-chat")
    page.click("#delete-yes")
    page.wait_for_function(f"document.querySelectorAll('#sessions label').length === {count - 1}", timeout=10_000)
    assert "Here is what I can do" not in chat_text(page)

    send(page, "hello")
    wait_text(page, "Here is what I can do")
    page.locator("#chat button[aria-label='Clear']").first.click()  # Gradio's own clear icon
    page.wait_for_function("!document.querySelector('#chat').innerText.includes('Here is what I can do')")
    send(page, "thanks!")
    wait_text(page, "You're welcome")
    assert "hello" not in chat_text(page)  # a new chat: the cleared one does not come back


def test_mobile_390x844_the_whole_chat_is_usable(browser_page, photo):
    """Done when: a screenshot at 390×844 shows the whole chat usable."""
    server, desktop = browser_page
    context = desktop.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.wait_for_function("!document.querySelector('#sidebar').classList.contains('open')", timeout=10_000)
    send(page, "make it black and white", attach_path=photo)
    bot_images(page).first.wait_for()
    page.locator("#chat button.option").first.wait_for()
    page.wait_for_timeout(1000)
    shot = server.data_dir.parent / "mobile-390x844.png"
    page.screenshot(path=str(shot))
    for selector in ("#chat", "#msg textarea", "#msg [data-testid=submit-button]"):
        box = page.locator(selector).first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, (selector, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844 + 1, (selector, box)
    assert page.locator("#chat").bounding_box()["width"] >= 340
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # nothing sticks out sideways
    # the chats are one tap away, and New chat or picking a chat closes the sidebar again
    is_open = "document.querySelector('#sidebar').classList.contains('open')"
    page.locator("#sidebar .toggle-button").click()
    page.wait_for_function(is_open)
    page.click("#new-chat")
    page.wait_for_function("!" + is_open, timeout=10_000)
    page.wait_for_function("!document.querySelector('#chat').innerText.includes('Converted to black and white')")
    page.locator("#sidebar .toggle-button").click()
    page.wait_for_function(is_open)
    page.locator("#sessions label", has_text="make it black and white").click()
    page.wait_for_function("!" + is_open, timeout=10_000)
    wait_text(page, "Converted to black and white")
    context.close()


def test_a_refused_first_message_is_a_reply_and_a_reload_shows_no_error(browser_page, tmp_path):
    """A new chat whose first message is refused (too long; a non-image file named photo.png) shows the reason as
    the reply, Stop hides, nothing is stored, and a reload shows the chat list with no red "Error"."""
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    page.fill("#msg textarea", "x" * 4001)
    page.keyboard.press("Enter")
    wait_text(page, "4,001 characters long", timeout=30_000)
    page.wait_for_selector("#stop", state="hidden", timeout=10_000)

    fake = tmp_path / "photo.png"
    fake.write_text("this is not an image at all")
    page.click("#new-chat")
    send(page, "remove the background", attach_path=fake)
    wait_text(page, "not an image file", timeout=30_000)
    page.wait_for_selector("#stop", state="hidden", timeout=10_000)
    assert not page.get_by_text("Error", exact=True).count()

    def refused_chats() -> list[str]:  # a chat either refusal would have left behind, by its title
        return [label for label in page.locator("#sessions label").all_inner_texts()
                if label.lower().startswith(("xxxx", "remove the background · photo"))]

    assert refused_chats() == []
    page.reload(wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.wait_for_function("document.querySelector('#chat') !== null")
    assert refused_chats() == []
    assert not page.get_by_text("Error", exact=True).count()
    assert "Waiting for" not in chat_text(page)
    import sqlite3

    with sqlite3.connect(server.data_dir / "gateway.sqlite3") as db:  # and nothing was stored for them
        assert db.execute("SELECT COUNT(*) FROM messages WHERE content LIKE 'xxxx%' "
                          "OR content = 'remove the background'").fetchone()[0] == 0


def test_message_text_never_makes_the_browser_load_anything(browser_page):
    """A message with a markdown image, an HTML image and a form: shown as text, no request leaves the page."""
    server, page = browser_page
    probe = "http://127.0.0.1:9/gw-probe"
    requests_seen = []
    page.on("request", lambda req: requests_seen.append(req.url) if "gw-probe" in req.url else None)
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    text = (f"hello ![x]({probe}/md.png) <img src=\"{probe}/html.png\"> "
            f"<form action=\"{probe}/form\"><button>go</button></form> [link]({probe}/a)")
    page.fill("#msg textarea", text)
    page.keyboard.press("Enter")
    wait_text(page, "Here is what I can do", timeout=60_000)
    assert not page.locator(f"#chat img[src^='{probe}'], #chat form, #chat iframe, #chat a[href^='{probe}']").count()
    assert "![x](" in chat_text(page) and "<img" in chat_text(page)  # shown as the text it is
    page.reload(wait_until="load")
    page.wait_for_selector("#msg textarea")
    wait_text(page, "Here is what I can do", timeout=30_000)
    assert requests_seen == []


def test_after_a_two_step_plan_a_chip_acts_on_the_final_image(browser_page, photo):
    """"remove the background and then make it black and white" stores two images; a chip under that reply then
    works on the last one (the grey cut-out), not on the middle step's image."""
    import sqlite3

    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    send(page, "remove the background and then make it black and white", attach_path=photo)
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=bot] img').length >= 2", timeout=120_000)
    chips = page.locator("#chat button.option")
    chips.first.wait_for()
    labels = chips.all_inner_texts()
    skip = ("not what i meant", "paint", "try again", "erase", "style")
    target = next(i for i, label in enumerate(labels) if not any(word in label.lower() for word in skip))
    with sqlite3.connect(server.data_dir / "gateway.sqlite3") as db:
        plan_images = [row[0] for row in db.execute(
            "SELECT mi.image_id FROM message_images mi WHERE mi.message_id = (SELECT MAX(id) FROM messages "
            "WHERE role = 'assistant') ORDER BY mi.position")]
    assert len(plan_images) == 2, plan_images
    before = bot_images(page).count()
    chips.nth(target).click()
    page.wait_for_function(f"document.querySelectorAll('#chat [data-testid=bot] img').length > {before}",
                           timeout=120_000)
    with sqlite3.connect(server.data_dir / "gateway.sqlite3") as db:
        recipe = db.execute("SELECT i.recipe FROM images i JOIN message_images mi ON mi.image_id = i.id WHERE "
                            "mi.message_id = (SELECT MAX(id) FROM messages WHERE role = 'assistant')").fetchone()[0]
    import json

    assert json.loads(recipe)["parent_ids"] == [plan_images[-1]], (labels[target], recipe)


def test_the_same_file_can_be_attached_again_after_a_send_and_after_removing_it(browser_page, photo):
    server, page = browser_page
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    page.click("#new-chat")
    send(page, "make it black and white", attach_path=photo)
    bot_images(page).first.wait_for()
    attach(page, photo)  # the same file again, right after the send
    thumbnails = page.locator("#msg img, #msg .thumbnail-item")
    assert thumbnails.count() >= 1
    page.locator("#msg .thumbnail-item button, #msg button[aria-label*='emove'], #msg .delete-button").first.click()
    page.wait_for_function("!document.querySelector('#msg img')", timeout=10_000)
    attach(page, photo)  # and once more after removing it
    assert page.locator("#msg img, #msg .thumbnail-item").count() >= 1
