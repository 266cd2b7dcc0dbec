"""Pure-Python orchestration of a chat message; never imports gradio. Its folders follow the message:
`boundary/` checks what callers send (schema, owner identities), `understand/` reads the words (router, params,
refine, presets), `run/` carries the message through (process → plan steps → result cache → executor → reply,
chips, recovery), `executors/` decides where a capability run executes, `store/` keeps sessions in SQLite.
`assemble.py` builds the parts for every entry point; `evaluate.py` scores the router on a labelled set.
See docs/architecture.md."""
