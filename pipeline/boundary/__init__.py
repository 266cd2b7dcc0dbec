"""What callers send, checked before anything is stored: the typed input schema (`schema.py`) and the owner
identities derived from tokens and user names with the server secret (`identity.py`)."""
