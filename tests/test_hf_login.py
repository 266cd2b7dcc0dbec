"""Sign in with Hugging Face, as on a Space with `hf_oauth: true`, in a real browser.

The app runs with the environment a Space gives it (SYSTEM=spaces, SPACE_ID, OAUTH_*). Nothing reaches
huggingface.co: instead of the OAuth round trip the test hands the browser the session cookie that Gradio's
callback would set (signed with the key Gradio derives from OAUTH_CLIENT_SECRET). Checked: the sidebar has the
button, a signed-in account sees its chats from any browser, and anonymous use keeps working.
"""

import base64
import hashlib
import json
import time

import pytest

from tests.server_util import Server, free_port
from tests.browser_util import ARGS, CHROMIUM, require_chromium, send, wait_text

pytestmark = pytest.mark.browser
CLIENT_SECRET = "test-oauth-client-secret"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    require_chromium()
    from playwright.sync_api import sync_playwright

    data = tmp_path_factory.mktemp("space") / "data"
    data.mkdir()
    env = {"SYSTEM": "spaces", "SPACE_ID": "tester/gateway", "OAUTH_CLIENT_ID": "test-client",
           "OAUTH_CLIENT_SECRET": CLIENT_SECRET, "OAUTH_SCOPES": "openid profile",
           "OPENID_PROVIDER_URL": "http://127.0.0.1:9"}  # never contacted: nobody clicks through to Hugging Face
    server = Server(data, free_port(), env=env).start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield server, browser
        browser.close()
    server.stop()


def signed_in_cookie(server, username: str) -> dict:
    """The cookie Gradio's /login/callback sets after a Hugging Face sign-in (Starlette's signed session)."""
    from itsdangerous import TimestampSigner

    session = {"oauth_info": {"access_token": "hf_test_token", "scope": "openid profile",
                              "expires_at": int(time.time()) + 3600, "token_type": "bearer",
                              "userinfo": {"preferred_username": username, "name": username.title(),
                                           "picture": "", "profile": f"https://huggingface.co/{username}"}}}
    key = hashlib.sha256((CLIENT_SECRET + "-v4").encode()).hexdigest()
    value = TimestampSigner(key).sign(base64.b64encode(json.dumps(session).encode())).decode()
    # (Secure and SameSite=None as Gradio sets it are refused for http://127.0.0.1; the server reads it either way)
    return {"name": "session", "value": value, "url": server.url, "sameSite": "Lax"}


def open_page(browser, server, username=None):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    if username:
        context.add_cookies([signed_in_cookie(server, username)])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#msg textarea")
    return page


def test_the_signed_in_account_owns_its_chats_on_every_device_and_anonymous_use_works(space):
    server, browser = space
    anonymous = open_page(browser, server)
    assert anonymous.locator("#hf-login").first.inner_text().strip() == "Sign in with Hugging Face"
    send(anonymous, "hello from nobody")
    wait_text(anonymous, "Here is what I can do")

    laptop = open_page(browser, server, "alice")
    laptop.wait_for_function("document.querySelector('#hf-login').innerText.includes('alice')")
    assert "hello from nobody" not in laptop.locator("#sessions").inner_text().lower()
    send(laptop, "what can you do, alice?")
    wait_text(laptop, "Here is what I can do")
    laptop.wait_for_selector("#sessions label:has-text('what can you do, alice?')")

    phone = open_page(browser, server, "alice")  # another browser: another token in its storage, same account
    phone.wait_for_selector("#sessions label:has-text('what can you do, alice?')", timeout=20_000)
    bob = open_page(browser, server, "bob")
    bob.wait_for_function("document.querySelector('#hf-login').innerText.includes('bob')")
    time.sleep(1)
    assert "alice" not in bob.locator("#sessions").inner_text().lower()
    assert "hello from nobody" in anonymous.locator("#sessions").inner_text().lower()  # still there for the anonymous user
