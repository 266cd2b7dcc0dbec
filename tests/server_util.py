"""Launching the real app (`python app.py`) on a free port with its own data dir, for API and browser tests."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, port: int, env: dict | None = None):
        """`env` overrides the environment of `python app.py`; a value of None removes that variable."""
        self.data_dir, self.port, self.env = data_dir, port, env or {}
        self.url = f"http://127.0.0.1:{port}/"
        self.proc = None
        self.gradio_dir = data_dir.parent / f"gradio-{port}"  # this server's own file cache

    def start(self):
        env = dict(os.environ, GATEWAY_DATA_DIR=str(self.data_dir), GATEWAY_PORT=str(self.port),
                   GATEWAY_HOST="127.0.0.1", GATEWAY_OWNER_SECRET="test-secret", GATEWAY_LOG_LEVEL="WARNING",
                   GRADIO_TEMP_DIR=str(self.gradio_dir))
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.data_dir.parent / f"server-{self.port}.log").read_text()[-3000:])
            try:
                if requests.get(self.url, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError("the app did not start in 120 s")

    @property
    def log(self) -> str:
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")

    def kill(self):
        """kill -9: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def serve_app(tmp_path_factory, name: str, env: dict | None = None):
    """The body of a module fixture: `python app.py` in a data dir of its own, stopped afterwards
    (`yield from serve_app(tmp_path_factory, "mcp")`)."""
    data = tmp_path_factory.mktemp(name) / "data"
    data.mkdir()
    server = Server(data, free_port(), env=env).start()
    try:
        yield server
    finally:
        server.stop()
