"""Calling the page's own events over plain HTTP, as an attacker (or an abandoned tab) would.

Every event the page wires is an endpoint whatever its `api_visibility`: `POST /gradio_api/run/predict` for the
unqueued ones, `POST /gradio_api/queue/join` plus the SSE stream `/gradio_api/queue/data` for the queued ones,
addressed by the dependency id from `/config`. `EventClient` reads the config once and sends any `data` and
`event_data` to any dependency, returning every byte of the answer for the tests to inspect.
"""

from __future__ import annotations

import json
import uuid

import requests


class EventClient:
    def __init__(self, url: str):
        self.url = url
        self.config = requests.get(url + "config", timeout=30).json()
        self.components = {c["id"]: c for c in self.config["components"]}
        self.dependencies = [d for d in self.config["dependencies"] if d.get("backend_fn")]

    def dependency(self, fn_name: str) -> dict:
        return next(d for d in self.dependencies if d.get("api_name") == fn_name)

    def trigger(self, dep: dict) -> int | None:
        targets = dep.get("targets") or []
        return targets[0][0] if targets and targets[0][0] is not None else None

    def input_types(self, dep: dict) -> list[str]:
        return [self.components[i]["type"] for i in dep["inputs"]]

    def call(self, dep: dict, data: list, event_data=None, session_hash: str | None = None,
             timeout: float = 60) -> str:
        """The whole answer to one event as text (JSON for an unqueued event, the SSE stream for a queued one)."""
        session_hash = session_hash or uuid.uuid4().hex[:11]
        body = {"data": data, "event_data": event_data, "fn_index": dep["id"], "trigger_id": self.trigger(dep),
                "session_hash": session_hash}
        if not dep.get("queue"):
            return requests.post(self.url + "gradio_api/run/predict", json=body, timeout=timeout).text
        joined = requests.post(self.url + "gradio_api/queue/join", json=body, timeout=timeout)
        if joined.status_code != 200:
            return joined.text
        event_id = joined.json().get("event_id")
        out = [joined.text]
        with requests.get(self.url + "gradio_api/queue/data", params={"session_hash": session_hash}, stream=True,
                          timeout=timeout) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                out.append(line)
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    break
                if message.get("msg") in ("close_stream", "unexpected_error"):
                    break
        return "\n".join(out)

    def send_only(self, text: str, session_hash: str, state: dict | None = None) -> str:
        """The chat box's send event alone (its run event never follows), like a tab closed at once."""
        dep = next(d for d in self.dependencies if d.get("api_name") == "send")
        box = {"text": text, "files": []}
        return self.call(dep, [box, state or {"token": "", "session_id": ""}, None], session_hash=session_hash)
