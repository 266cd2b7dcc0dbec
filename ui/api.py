"""The named API endpoints for scripts, and the MCP tools for agents (`launch(mcp_server=True)`).

`/chat`, `/list_sessions`, `/get_session`, `/delete_session`, `/get_image`, `/capabilities` are wired to hidden
components, so files travel as real files through gradio_client. Gradio serves the documented ones as MCP tools
too; each function's docstring is the tool's description (arguments and results). Agents get `chat` from
`/chat_for_agents`: one JSON reply and one image, unqueued, because Gradio's MCP bridge hands a queued reply
with several outputs to an agent as one string; scripts keep `/chat` with every image file. Two small
components close gaps of the MCP bridge (a file list's schema and its `data:` URLs, gr.JSON's schema).
"""

from __future__ import annotations

import copy

import gradio as gr
from gradio import processing_utils

from ui.api_inputs import InvalidFiles, api_files
from ui.handlers import Handlers


def api_json_object(label: str) -> gr.JSON:
    """A JSON input whose API schema is a JSON object. gr.JSON describes itself as `{"type": {}}`, which is not
    valid JSON Schema, and MCP clients that check a tool's schema refuse to call the tool. (The instance is
    adjusted rather than subclassed: Gradio writes a `.pyi` file next to a module that subclasses a component.)"""
    component = gr.JSON(label=label)
    component.api_info = lambda: {"type": "object", "additionalProperties": True, "description": "a JSON object"}
    return component


def agent_files(label: str) -> gr.File:
    """`api_files(label, "multiple")` for MCP agents: images may also come as `data:image/…;base64` URLs.

    Closes two gaps of Gradio's MCP bridge for file lists: it turns the schema's files into URL strings but leaves
    `"$ref": "#/$defs/FileData"` pointing at nothing (MCP clients then refuse the tool), and it converts URL
    strings back into files only for single-file inputs, so a list arrives as plain strings."""
    component = api_files(label, "multiple")
    checked_preprocess = component.preprocess
    schema = _resolve_refs(component.api_info())

    def preprocess(payload):
        if not isinstance(payload, list) or not any(isinstance(item, str) for item in payload):
            return checked_preprocess(payload)
        paths = []
        for item in payload:
            if isinstance(item, str):
                if not item.startswith("data:image/"):
                    return InvalidFiles(label, "must be images as data:image/…;base64 URLs, or uploaded files")
                paths.append(processing_utils.save_base64_to_cache(item, component.GRADIO_CACHE))
                continue
            files = checked_preprocess([item])
            if isinstance(files, InvalidFiles):
                return files
            paths += files
        return paths

    component.preprocess = preprocess
    component.api_info = lambda: schema
    return component


def _resolve_refs(schema: dict) -> dict:
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/") and ref.split("/")[-1] in defs:
                return resolve(copy.deepcopy(defs[ref.split("/")[-1]]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def api_endpoints(handlers: Handlers, limit: int, chat_queue: str) -> None:
    """Named endpoints for scripts and MCP clients, on hidden components (files in and out as real files)."""
    with gr.Column(visible=False):
        message = gr.Textbox(label="message")
        images = api_files("images", "multiple")
        agent_images = agent_files("images")
        mask = api_files("mask", "single")
        session_id = gr.Textbox(label="session_id")
        owner = gr.Textbox(label="owner")
        context = api_json_object("context")
        image_id = gr.Textbox(label="image_id")
        response = gr.JSON(label="response")
        files_out = gr.File(label="images", file_count="multiple")
        first_image = gr.Image(label="image", type="filepath", format="png")
        file_out = gr.File(label="image")
        listing = gr.JSON(label="result")
        triggers = [gr.Button(visible=False) for _ in range(7)]

    def chat_with_files(message, images, mask, session_id, owner, context, request: gr.Request,
                        progress=gr.Progress()):
        """Send one chat message and get the reply with all of its image files (for scripts; agents use `chat`).

        Args:
            message: What to do, in plain words, e.g. "create a fantasy dragon" or "remove the background".
            images: Images to work on, in order; may be empty.
            mask: Optional black-and-white image, white where an object should be erased.
            session_id: The session to continue (from an earlier reply); empty starts a new session.
            owner: Your private owner token (any long random string you keep); sessions belong to it.
            context: Optional JSON, e.g. {"force_intent": "upscale"} or {"consent": true}; {} for none.

        Returns:
            The reply as JSON and the reply's image files.
        """
        return handlers.api_chat(message, images, mask, session_id, owner, context, request=request,
                                 progress=lambda f, d="": progress(f, desc=d or None))

    # Hidden from the MCP tool list: Gradio hands an agent a reply with several outputs as one string, so agents
    # get `chat` below instead (the tool name is the function's name).
    chat_with_files._mcp_type = "script"

    def chat(message, images=None, mask=None, session_id="", owner="", context=None, request: gr.Request = None):
        """Send one chat message to the AI image gateway and get its reply: create an image from a description,
        or edit attached images (remove or replace the background, erase an object, upscale, apply an art
        style, swap a face, rotate/crop/recolour). Follow-ups in the same session may say "it" for the latest image.

        Args:
            message: What to do, in plain words, e.g. "create a fantasy dragon" or "remove the background".
            images: Images to work on, in order, as data:image/png;base64 URLs; may be empty.
            mask: Optional black-and-white image, white where an object should be erased.
            session_id: The session to continue (from an earlier reply); empty starts a new session.
            owner: Your private owner token (any long random string you keep); sessions belong to it.
            context: Optional JSON, e.g. {"force_intent": "upscale"} or {"consent": true}; {} for none.

        Returns:
            The reply as JSON (session_id, type image|text|clarification|error, message, data.images with the id,
            width and height of each image, metadata of what ran, actions and suggestions for follow-ups) and the
            reply's first image (get the others with get_image).
        """
        out, files = handlers.api_chat(message, images, mask, session_id, owner, context, request=request)
        return out, (files[0] if files else None)

    def list_sessions(owner, request: gr.Request):
        """List the sessions (chats) of an owner, newest first.

        Args:
            owner: The owner token the sessions were created with.

        Returns:
            A JSON list of {session_id, title, created_at, updated_at, message_count}.
        """
        return handlers.api_list_sessions(owner, request)

    def get_session(session_id, owner, request: gr.Request):
        """Read one session's messages, with the id, size and recipe of every image.

        Args:
            session_id: The session to read.
            owner: The owner token it belongs to.

        Returns:
            JSON {session_id, messages: [{message_id, role, content, created_at, metadata, images}]}, or an error.
        """
        return handlers.api_get_session(session_id, owner, request)

    def delete_session(session_id, owner, request: gr.Request):
        """Delete a session with its messages and the images no other session uses.

        Args:
            session_id: The session to delete.
            owner: The owner token it belongs to.

        Returns:
            JSON {deleted: true|false}.
        """
        return handlers.api_delete_session(session_id, owner, request)

    def get_image(image_id, owner, request: gr.Request):
        """Download a stored image by its id (the sha256 in a reply's data.images).

        Args:
            image_id: The image id.
            owner: The owner token of a session that holds the image.

        Returns:
            The image file (PNG).
        """
        from core.errors import GatewayError

        try:
            return handlers.api_get_image(image_id, owner, request)
        except GatewayError as exc:
            raise gr.Error(f"{exc.code}: {exc.message}") from None
        except Exception:  # noqa: BLE001 - a coded message, never a traceback
            from ui.handlers import _internal_error

            raise gr.Error(f"gateway_error: {_internal_error('get_image').message}") from None

    def capabilities():
        """What this server can do: every capability, its backends, whether each can run here and why not, and
        their licences.

        Returns:
            JSON {capabilities: [{name, description, available, backends: [{name, status, reason, fix, licence}],
            examples}], router: {...}}.
        """
        return handlers.api_capabilities()

    triggers[0].click(chat_with_files, [message, images, mask, session_id, owner, context], [response, files_out],
                      api_name="chat", concurrency_id=chat_queue, concurrency_limit=limit)
    # Not queued: Gradio's MCP bridge then returns each output on its own (the image as an image). Model runs
    # still wait for a model slot inside the executor.
    triggers[6].click(chat, [message, agent_images, mask, session_id, owner, context], [response, first_image],
                      api_name="chat_for_agents", queue=False)
    triggers[1].click(list_sessions, [owner], listing, api_name="list_sessions")
    triggers[2].click(get_session, [session_id, owner], listing, api_name="get_session")
    triggers[3].click(delete_session, [session_id, owner], listing, api_name="delete_session")
    triggers[4].click(get_image, [image_id, owner], file_out, api_name="get_image")
    triggers[5].click(capabilities, None, listing, api_name="capabilities")
