"""Pure-Python orchestration of a chat message: classify → refine → route → format; never imports gradio."""
