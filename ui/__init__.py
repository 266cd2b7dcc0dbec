"""The Gradio layer: the page, the named API endpoints and thin handlers (the only package that imports gradio)."""
