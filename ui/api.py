"""The named API endpoints for scripts, and the MCP tools for agents (`launch(mcp_server=True)`).

`/chat`, `/list_sessions`, `/get_session`, `/delete_session`, `/get_image`, `/capabilities` are wired to hidden
components, so files travel as real files through gradio_client. Gradio serves the documented ones as MCP tools
too: each tool's description is its `api_description`, its arguments' descriptions come from the docstring.
Agents get `chat` from `/chat_for_agents`: one JSON reply and one image, unqueued (so the MCP bridge calls it
in-process with the agent's own request, login included); scripts keep `/chat` with every image file. Agents
send images as `data:` URLs only (`data_url_images`: the server never fetches a URL for them), every argument
but the message may be left out, and JSON results reach them as JSON text (`mcp_json_outputs`).
"""

from __future__ import annotations

import json

import gradio as gr
from gradio import processing_utils

from core.errors import GatewayError
from ui.api_inputs import InvalidFiles, api_files
from ui.handlers import Handlers, internal_error


def api_json_object(label: str) -> gr.JSON:
    """A JSON input whose API schema is a JSON object. gr.JSON describes itself as `{"type": {}}`, which is not
    valid JSON Schema, and MCP clients that check a tool's schema refuse to call the tool. (The instance is
    adjusted rather than subclassed: Gradio writes a `.pyi` file next to a module that subclasses a component.)"""
    component = gr.JSON(label=label)
    component.api_info = lambda: {"type": "object", "additionalProperties": True, "description": "a JSON object"}
    return component


def data_url_images(label: str, description: str, single: bool = False, max_bytes: int = 25 * 2**20) -> gr.File:
    """Images for MCP agents, as `data:image/…;base64` URLs (a list, or with `single` one or null).

    Its API schema is a plain string (list) rather than Gradio's FileData: Gradio's MCP bridge turns a FileData
    parameter into "an http or https url to a file" that the server would fetch (a request to anywhere, made by
    the server) and adds a sentence pointing at an `upload_file_to_gradio` tool this server does not have. Here
    only data URLs are accepted, decoded within the upload limit and saved into Gradio's cache; anything else
    is `invalid_input` naming the field."""
    component = gr.File(label=label, file_count="single" if single else "multiple", type="filepath")
    item = {"type": "string", "description": "an image as a data:image/png;base64,… URL"}
    schema = ({"anyOf": [item, {"type": "null"}], "default": None, "description": description} if single else
              {"type": "array", "items": item, "default": [], "description": description})

    def preprocess(payload):
        if payload is None or payload == []:
            return None if single else []
        items = [payload] if single else payload
        if not isinstance(items, list) or len(items) > 16:
            return InvalidFiles(label, "must be a list of data:image/…;base64 URLs" if not single else
                                "must be a data:image/…;base64 URL, or null")
        paths = []
        for value in items:
            if not (isinstance(value, str) and value.startswith("data:image/") and ";base64," in value[:64]):
                return InvalidFiles(label, "must be images as data:image/…;base64 URLs")
            if len(value) * 3 // 4 > max_bytes:
                return InvalidFiles(label, f"holds an image larger than {max_bytes // 2**20} MB")
            paths.append(processing_utils.save_base64_to_cache(value, component.GRADIO_CACHE))
        return paths[0] if single else paths

    component.data_model = None  # Gradio skips its own FileData validation; preprocess() checks the strings
    component.preprocess = preprocess
    component.api_info = lambda: schema
    return component


class Endpoints:
    """The functions behind the named endpoints; Gradio reads each one's name (the MCP tool's name) and the
    `Args:` of its docstring (the arguments' descriptions)."""

    def __init__(self, handlers: Handlers):
        self.handlers = handlers

    def chat_with_files(self, message, images, mask, session_id, owner, context, request: gr.Request,
                        progress=gr.Progress()):
        """Send one chat message and get the reply with all of its image files (for scripts; agents use `chat`).

        Args:
            message: What to do, in plain words, e.g. "create a fantasy dragon" or "remove the background".
            images: Images to work on, in order; may be empty.
            mask: Optional black-and-white image, white where an object should be erased.
            session_id: The session to continue (from an earlier reply); empty starts a new session.
            owner: Your private owner token, a random string of 16 or more characters you keep; sessions belong to it.
            context: Optional JSON, e.g. {"force_intent": "upscale"} or {"consent": true}; {} for none.

        Returns:
            The reply as JSON and the reply's image files.
        """
        return self.handlers.api_chat(message, images, mask, session_id, owner, context, request=request,
                                      progress=lambda f, d="": progress(f, desc=d or None))

    # Hidden from the MCP tool list: Gradio hands an agent a reply with several outputs as one string, so agents
    # get `chat` below instead (the tool name is the function's name).
    chat_with_files._mcp_type = "script"

    def chat(self, message, images=None, mask=None, session_id=None, owner=None, context=None,
             request: gr.Request = None):
        """Send one chat message to the AI image gateway and get its reply.

        Args:
            message: What to do, in plain words, e.g. "create a fantasy dragon" or "remove the background".
            images: Images to work on, in order, as data:image/png;base64 URLs; may be left out.
            mask: Optional black-and-white image as a data:image/png;base64 URL, white where an object should be erased; may be null.
            session_id: The session to continue (the session_id of an earlier reply); leave it out to start a new session.
            owner: Your private owner token, a random string of 16 or more characters you keep; sessions belong to it. Not needed when the server asks for a login.
            context: Optional JSON object, e.g. {"force_intent": "upscale"} or {"consent": true}.
        """
        out, files = self.handlers.api_chat(message, images, mask, session_id, owner, context, request=request)
        return out, (files[0] if files else None)

    def list_sessions(self, owner=None, request: gr.Request = None):
        """List the sessions (chats) of an owner, newest first.

        Args:
            owner: The owner token the sessions were created with (not needed when the server asks for a login).
        """
        return self.handlers.api_list_sessions(owner, request)

    def get_session(self, session_id, owner=None, request: gr.Request = None):
        """Read one session's messages, with the id, size and recipe of every image.

        Args:
            session_id: The session to read.
            owner: The owner token it belongs to (not needed when the server asks for a login).
        """
        return self.handlers.api_get_session(session_id, owner, request)

    def delete_session(self, session_id, owner=None, request: gr.Request = None):
        """Delete a session with its messages and the images no other session uses.

        Args:
            session_id: The session to delete.
            owner: The owner token it belongs to (not needed when the server asks for a login).
        """
        return self.handlers.api_delete_session(session_id, owner, request)

    def get_image(self, image_id, owner=None, request: gr.Request = None):
        """Download a stored image by its id (the sha256 in a reply's data.images).

        Args:
            image_id: The image id.
            owner: The owner token of a session that holds the image (not needed when the server asks for a login).
        """
        try:
            return self.handlers.api_get_image(image_id, owner, request)
        except GatewayError as exc:
            raise gr.Error(f"{exc.code}: {exc.message}") from None
        except Exception:  # noqa: BLE001 - a coded message, never a traceback
            raise gr.Error(f"gateway_error: {internal_error('get_image').message}") from None

    def capabilities(self):
        """What this server can do: every capability, its backends, whether each can run here and why not, and
        their licences."""
        return self.handlers.api_capabilities()


def api_endpoints(handlers: Handlers, limit: int, chat_queue: str) -> None:
    """Named endpoints for scripts and MCP clients, on hidden components (files in and out as real files)."""
    limit_bytes = handlers.settings.max_upload_bytes
    with gr.Column(visible=False):
        message, session_id, owner = gr.Textbox(label="message"), gr.Textbox(label="session_id"), gr.Textbox(label="owner")
        images, mask = api_files("images", "multiple"), api_files("mask", "single")
        agent_images = data_url_images("images", "Images to work on, in order, as data:image/png;base64 URLs.",
                                       max_bytes=limit_bytes)
        agent_mask = data_url_images("mask", "Optional mask as a data:image/png;base64 URL (white = erase), or null.",
                                     single=True, max_bytes=limit_bytes)
        context, image_id = api_json_object("context"), gr.Textbox(label="image_id")
        response, listing = gr.JSON(label="response"), gr.JSON(label="result")
        files_out, file_out = gr.File(label="images", file_count="multiple"), gr.File(label="image")
        first_image = gr.Image(label="image", type="filepath", format="png")
        triggers = [gr.Button(visible=False) for _ in range(7)]
    api = Endpoints(handlers)
    triggers[0].click(api.chat_with_files, [message, images, mask, session_id, owner, context], [response, files_out],
                      api_name="chat", concurrency_id=chat_queue, concurrency_limit=limit)
    # The agents' tools are not queued: Gradio's MCP bridge then calls them in-process with the agent's own
    # request (the auth gate's login included) and returns each output on its own (the image as an image). Model
    # runs still wait for a model slot inside the executor.
    agent = dict(queue=False)
    triggers[6].click(api.chat, [message, agent_images, agent_mask, session_id, owner, context], [response, first_image],
                      api_name="chat_for_agents", api_description=CHAT_DESCRIPTION, **agent)
    for trigger, fn, inputs, output in ((triggers[1], api.list_sessions, [owner], listing),
                                        (triggers[2], api.get_session, [session_id, owner], listing),
                                        (triggers[3], api.delete_session, [session_id, owner], listing),
                                        (triggers[4], api.get_image, [image_id, owner], file_out),
                                        (triggers[5], api.capabilities, None, listing)):
        trigger.click(fn, inputs, output, api_name=fn.__name__, api_description=DESCRIPTIONS[fn.__name__], **agent)


DESCRIPTIONS = {
    "list_sessions": "List the sessions (chats) of an owner, newest first: a JSON list of {session_id, title, "
                     "created_at, updated_at, message_count}.",
    "get_session": "Read one session's messages as JSON {session_id, messages: [{message_id, role, content, "
                   "created_at, metadata, images}]}, each image with its id, size and recipe.",
    "delete_session": "Delete a session with its messages and the images no other session uses; answers JSON "
                      "{deleted: true|false}.",
    "get_image": "Download a stored image (PNG) by its id, the sha256 in a reply's data.images.",
    "capabilities": "What this server can do as JSON: every capability, its backends, whether each can run here "
                    "and why not, and their licences.",
}


CHAT_DESCRIPTION = (
    "Send one chat message to the AI image gateway and get its reply: create an image from a description, or edit "
    "attached images (remove or replace the background, erase an object, upscale, apply an art style, swap a face, "
    "rotate, crop, recolour). Follow-ups in the same session may say \"it\" for the latest image. Returns the "
    "reply as JSON text (session_id, type image|text|clarification|error, message, data.images with the id, width "
    "and height of each image, metadata of what ran, actions and suggestions) and the reply's first image; get "
    "the others with get_image.")


def mcp_json_outputs(demo) -> None:
    """Make the MCP server hand JSON outputs to agents as JSON text. Gradio's MCP bridge writes a non-file output
    with `str()`, which gives a Python repr (`{'a': 1}`, or `root={...}` for gr.JSON's model) that an agent
    cannot parse."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return
    original = server.postprocess_output_data

    def as_json(value):
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        if isinstance(value, (dict, list)) and not (isinstance(value, dict) and value.get("meta", {}).get(
                "_type") == "gradio.FileData"):
            return json.dumps(value, ensure_ascii=False, default=str)
        return value

    def postprocess_output_data(data, root_url):
        return original([as_json(value) for value in data if value is not None], root_url)

    server.postprocess_output_data = postprocess_output_data
