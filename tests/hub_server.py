"""A small stand-in for the Hugging Face Hub over HTTP, in the Hub's URL layout, for download tests.

It serves repositories the test builds (`{repo_id: {path: bytes}}`) at `/{repo}/resolve/{revision}/{path}`
(HEAD and GET with the `X-Repo-Commit`/`ETag` headers huggingface_hub reads, and `Range` for resumes), the
file listing at `/api/models/{repo}/revision/{revision}`, and answers `/api/whoami-v2` with 401 like the real
Hub without a token. Pointing `HF_ENDPOINT` (or huggingface_hub's constants) at `url` makes the real
`hf_hub_download`/`HfApi` code path run against it. It records every request, can slow file bodies down
(`chunk_delay_s`) to make concurrent downloads overlap, and can answer a file's GET with a server error
(`failing`, or its next few GETs: `flaky`) after its HEAD succeeded. Started on a fixed `port`, it can play a Hub that is down at first (nothing
listens there) and comes up later.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]], *, chunk_delay_s: float = 0.0, port: int = 0):
        self.repos = repos
        self.port = port  # 0: any free port; a fixed one lets a test point clients at a Hub that is not up yet
        self.commits = {repo: hashlib.sha1(repo.encode()).hexdigest() for repo in repos}
        self.chunk_delay_s = chunk_delay_s
        self.failing: set[str] = set()  # paths whose GET answers 500 (their HEAD still succeeds)
        self.flaky: dict[str, int] = {}  # path -> how many more of its GETs answer 500 before it is served
        self.requests: Counter = Counter()
        self._lock = threading.Lock()
        self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def gets(self, repo: str | None = None) -> list[str]:
        """Paths of files fetched with GET (optionally of one repo)."""
        return sorted(path for (method, r, path), n in self.requests.items()
                      if method == "GET" and path and (repo is None or r == repo) for _ in range(n))

    def start(self) -> "FakeHub":
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _serve(self, body: bool):
                path = unquote(urlsplit(self.path).path)
                if path.startswith("/api/whoami"):
                    return self._reply(401, b'{"error":"Invalid credentials"}', body)
                if path.startswith("/api/models/"):
                    return self._listing(path, body)
                parts = path.strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._reply(404, b"not found", body)
                repo, file = "/".join(parts[:2]), "/".join(parts[4:])
                with hub._lock:
                    hub.requests[("GET" if body else "HEAD", repo, file)] += 1
                data = hub.repos.get(repo, {}).get(file)
                if data is None:
                    code = "RepoNotFound" if repo not in hub.repos else "EntryNotFound"
                    return self._reply(404, b"not found", body, {"X-Error-Code": code})
                if body and file in hub.failing:
                    return self._reply(500, b"internal error", body)
                if body and hub.flaky.get(file, 0) > 0:
                    with hub._lock:
                        hub.flaky[file] -= 1
                    return self._reply(500, b"internal error (flaky)", body)
                start = 0
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes=") and body:
                    start = int(ranged[6:].split("-")[0] or 0)
                headers = {"X-Repo-Commit": hub.commits[repo], "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                           "Accept-Ranges": "bytes"}
                status = 206 if start else 200
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if not body:
                    return
                sent = start
                while sent < len(data):
                    piece = data[sent:sent + CHUNK]
                    try:
                        self.wfile.write(piece)
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    sent += len(piece)
                    if hub.chunk_delay_s:
                        time.sleep(hub.chunk_delay_s)

            def _listing(self, path: str, body: bool):
                parts = path.strip("/").split("/")  # api models owner name revision rev
                repo = "/".join(parts[2:4])
                if repo not in hub.repos:
                    return self._reply(404, b'{"error":"Repository not found"}', body, {"X-Error-Code": "RepoNotFound"})
                with hub._lock:
                    hub.requests[("API", repo, "")] += 1
                info = {"id": repo, "modelId": repo, "sha": hub.commits[repo], "private": False,
                        "siblings": [{"rfilename": name} for name in sorted(hub.repos[repo])]}
                return self._reply(200, json.dumps(info).encode(), body, {"Content-Type": "application/json"})

            def _reply(self, status: int, data: bytes, body: bool, headers: dict | None = None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def use_hub(monkeypatch, url: str, cache_dir) -> None:
    """Point the already-imported huggingface_hub (and our policy) at `url`, online, with its cache in `cache_dir`."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(cache_dir), raising=False)
