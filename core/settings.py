"""All configuration of the gateway in one place.

Every setting is a field of `Settings` with a description and a default; `Settings.from_env()` reads the
environment variable `GATEWAY_<FIELD NAME IN UPPER CASE>` for each one and converts it to the field's type.
The README's settings table is generated from the same metadata (`settings_table()`), so the two cannot
drift apart. Nothing here imports anything heavy.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "GATEWAY_"


def _setting(default, description: str):
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(Path("data"), "Folder for the SQLite database and the content-addressed image files.")
    host: str = _setting("127.0.0.1", "Interface the web server listens on (0.0.0.0 in containers).")
    port: int = _setting(7860, "Port the web server listens on.")
    device: str = _setting("auto", "Where models run: auto (cuda when available, else cpu), cpu, cuda, cuda:1, mps.")
    cache_budget_gb: float = _setting(6.0, "Byte budget of the model cache in GiB; least recently used unpinned models are evicted above it.")
    owner_secret: str = _setting("change-me-gateway-secret", "Fixed secret that signs the browser's owner token (keep it stable so identities survive restarts) and salts owner ids.")
    queue_max_size: int = _setting(64, "Most requests waiting in the queue; more get 'queue is full'.")
    concurrency_limit: int = _setting(1, "Requests that run models at the same time (one GPU: 1).")
    max_upload_bytes: int = _setting(25 * 1024 * 1024, "Largest accepted upload, in bytes.")
    max_image_pixels: int = _setting(40_000_000, "Largest accepted input image, in pixels (width x height); bigger files are refused as decompression bombs.")
    max_output_pixels: int = _setting(64_000_000, "Largest image a capability may produce (e.g. an upscale), in pixels.")
    max_prompt_chars: int = _setting(4000, "Longest accepted chat message, in characters.")
    max_images_per_message: int = _setting(4, "Most images attached to one message.")
    png_compress_level: int = _setting(1, "zlib level for stored PNGs (1 is ~6x faster than Pillow's default and ~10% larger).")
    history_page_size: int = _setting(200, "Messages of a session loaded into the chat at once.")
    auth: str = _setting("", "Optional 'user:password,user2:password2' list: the app asks for a login and the user name becomes the owner.")
    t2i_model: str = _setting("", "Text-to-image model: a Hugging Face hub id (optionally id@revision) or a local diffusers folder; empty = the device default.")
    allow_downloads: bool = _setting(False, "Let capabilities download missing weights from the Hugging Face Hub on first use (otherwise use `python -m models.download`).")
    log_level: str = _setting("INFO", "Python logging level.")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            key = PREFIX + f.name.upper()
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif key in environ:
                values[f.name] = _convert(f.type, environ[key], key)
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "gateway.sqlite3"

    @property
    def images_dir(self) -> Path:
        return Path(self.data_dir) / "images"


def _convert(type_name, raw: str, key: str):
    type_name = type_name if isinstance(type_name, str) else type_name.__name__
    try:
        if type_name == "bool":
            if raw.strip().lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.strip().lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Path":
            return Path(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{key}={raw!r} is not a valid {type_name}") from exc


def settings_table() -> str:
    """Markdown table of every setting, for the README."""
    rows = ["| variable | default | description |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        rows.append(f"| `{PREFIX}{f.name.upper()}` | `{f.default}` | {f.metadata['description']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
