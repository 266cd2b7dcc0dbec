"""Reading a message: the router (intent, parameters, the steps of a compound request), parameter extraction,
prompt refinement and style presets. Deterministic and store-free: it sees text and what is at hand, not files."""
