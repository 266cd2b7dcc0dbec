"""Carrying one message through: `process.py` validates, stores the user message, asks `understand/` what was
meant and runs each step (`steps.py`, shared by single requests and plans) through the result cache and the
executor, then stores the reply with its chips (`suggest.py`); `recovery.py` answers what a crash left open."""
