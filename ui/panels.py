"""The page's components, panel by panel: the sidebar, the chat with its input, and the brush.

Each builder makes its panel's components inside the current `gr.Blocks` and returns them in a small dataclass,
so ui/events.py can wire one panel's events to another's components by name. Nothing here handles an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.capabilities_view import render_capabilities

BRUSH_COLOUR = "#ff0040"


@dataclass
class Sidebar:
    new_chat: gr.Button
    sessions: gr.Radio
    delete: gr.Button
    confirm_box: gr.Group
    confirm_question: gr.Markdown
    confirm_yes: gr.Button
    confirm_no: gr.Button
    capabilities: gr.HTML


@dataclass
class Brush:
    panel: gr.Group
    note: gr.Markdown
    editor: gr.ImageEditor
    erase: gr.Button
    close: gr.Button


@dataclass
class Chat:
    chatbot: gr.Chatbot
    brush: Brush
    box: gr.MultimodalTextbox
    stop: gr.Button
    gallery: gr.Gallery


def build_sidebar(capabilities: dict, hf_login: bool) -> Sidebar:
    """Sign in with Hugging Face (on a Space), New chat, the chats, delete with a confirmation, what the server
    can do."""
    with gr.Sidebar(label="Chats", open=True, elem_id="sidebar"):
        if hf_login:
            gr.LoginButton(value="Sign in with Hugging Face", elem_id="hf-login", size="sm")
            gr.Markdown("Signed in, your chats follow your account on every device. Without signing in they "
                        "stay in this browser.", elem_id="login-note")
        new_chat = gr.Button("New chat", elem_id="new-chat", variant="primary")
        sessions = gr.Radio(label="Your chats", info="The number is how many messages each chat holds.",
                            choices=[], elem_id="sessions", interactive=True)
        delete = gr.Button("Delete this chat…", elem_id="delete-chat", size="sm")
        with gr.Group(visible=False, elem_id="delete-confirm") as confirm_box:
            confirm_question = gr.Markdown(elem_id="delete-question")
            with gr.Row():
                confirm_yes = gr.Button("Delete it", variant="stop", size="sm", elem_id="delete-yes")
                confirm_no = gr.Button("Keep it", size="sm", elem_id="delete-no")
        with gr.Accordion("What this server can do", open=False, elem_id="capabilities-panel"):
            listing = gr.HTML(render_capabilities(capabilities), elem_id="capabilities")
    return Sidebar(new_chat, sessions, delete, confirm_box, confirm_question, confirm_yes, confirm_no, listing)


def build_chat(examples: list[dict]) -> Chat:
    """The conversation (images inline, a "what ran" card per reply, chips under the last reply), the brush right
    above the input, the input with a Stop button while a request runs, and the chat's images folded below."""
    gr.Markdown("## AI image gateway\nAsk for an image, or attach one and say what to do with it.", elem_id="header")
    chatbot = gr.Chatbot(label="Conversation", show_label=False, elem_id="chat", height="62vh", min_height=320,
                         allow_file_downloads=True, examples=examples, buttons=["copy", "copy_all"],
                         feedback_options=None, sanitize_html=True,
                         placeholder="Try “create a fantasy dragon”, or attach a photo and say “remove the background”.")
    brush = build_brush()
    with gr.Row(elem_id="input-row", equal_height=True):
        box = gr.MultimodalTextbox(elem_id="msg", file_types=["image"], file_count="multiple", scale=8,
                                   placeholder="Type a request, attach images…", show_label=False, autofocus=True)
        stop = gr.Button("Stop", variant="stop", visible=False, elem_id="stop", scale=1, min_width=64)
    with gr.Accordion("All images of this chat", open=False, elem_id="gallery-panel"):
        gallery = gr.Gallery(show_label=False, elem_id="gallery", columns=6, height=220, object_fit="contain",
                             buttons=["download", "fullscreen"])
    return Chat(chatbot, brush, box, stop, gallery)


def build_brush() -> Brush:
    """The brush, right above the input when there is something to paint on (hidden until then)."""
    with gr.Group(visible=False, elem_id="brush-panel") as panel:
        note = gr.Markdown(elem_id="brush-note")
        editor = gr.ImageEditor(elem_id="brush", type="filepath", layers=False, show_label=False, height=400,
                                brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=24),
                                eraser=gr.Eraser(default_size=24), sources=(), transforms=(), buttons=["fullscreen"])
        with gr.Row():
            erase = gr.Button("Erase what I painted", variant="primary", size="sm", elem_id="brush-erase")
            close = gr.Button("Close the brush", size="sm", elem_id="brush-close")
    return Brush(panel, note, editor, erase, close)


def brush_updates(painted):
    """The brush panel, its note and the editor for a `Painted` (or closed for None)."""
    if painted is None:
        return gr.update(visible=False), gr.skip(), gr.update(value=None)
    layers = [painted.strokes_path] if painted.strokes_path else []
    value = {"background": painted.image_path, "layers": layers, "composite": None}
    return (gr.update(visible=True), painted.note,
            gr.update(value=value, brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=painted.size)))
