"""Use the gateway from a script through the Gradio Python client: every named endpoint once.

Run the app first (`python app.py`), then: `python examples/api_client.py [URL] [IMAGE]`.
Without IMAGE it uses scikit-image's astronaut photo. Your sessions belong to your owner token: set
GATEWAY_OWNER_TOKEN to a private random string (16+ characters, e.g. from
`python -c "import secrets; print(secrets.token_urlsafe(24))"`) and reuse it; without it the script makes a new
one and prints it.
"""

import os
import secrets
import sys
import tempfile

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # before importing gradio_client

from gradio_client import Client, handle_file  # noqa: E402

OWNER = os.environ.get("GATEWAY_OWNER_TOKEN") or secrets.token_urlsafe(24)  # private; reuse it to find your sessions


def main(url: str = "http://127.0.0.1:7860/", image: str | None = None) -> None:
    if image is None:
        from PIL import Image
        from skimage import data

        image = os.path.join(tempfile.mkdtemp(), "astronaut.png")
        Image.fromarray(data.astronaut()).save(image)
    client = Client(url, verbose=False)
    if "GATEWAY_OWNER_TOKEN" not in os.environ:
        print(f"owner token (keep it private; set GATEWAY_OWNER_TOKEN={OWNER} to see these sessions again)")

    caps = client.predict(api_name="/capabilities")
    print("available:", [c["name"] for c in caps["capabilities"] if c["available"]])

    response, files = client.predict("make it black and white", [handle_file(image)], None, "", OWNER, {},
                                     api_name="/chat")
    print(response["type"], "-", response["message"], "->", files)
    session_id = response["session_id"]

    # "it" refers to the session's latest image: no need to attach it again
    response, files = client.predict("rotate it 90 degrees clockwise", [], None, session_id, OWNER, {}, api_name="/chat")
    print(response["type"], "-", response["message"], "->", files)
    print("what ran:", {k: response["data"]["metadata"].get(k) for k in ("intent", "confidence", "backend")})

    print("sessions:", client.predict(OWNER, api_name="/list_sessions"))
    history = client.predict(session_id, OWNER, api_name="/get_session")
    print("messages:", [(m["role"], m["content"]) for m in history["messages"]])
    first_image = history["messages"][1]["images"][0]["id"]
    print("image file:", client.predict(first_image, OWNER, api_name="/get_image"))
    print("deleted:", client.predict(session_id, OWNER, api_name="/delete_session"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
