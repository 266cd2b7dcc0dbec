"""`python -m models.download [capability…]`: fetch the configured weights of capabilities ahead of time.

For Docker images and machines that are offline at run time: it calls `download()` on every backend of the
named capabilities (all of them when none is named), with the same settings the app reads from `GATEWAY_*`
variables, so exactly the configured models land in the huggingface_hub cache (or the library's own cache).
`--device cuda` pre-fetches what a GPU host would use from a machine without one. A failing backend is
reported and the others still run; the exit status is 1 when any failed.

`--preload` prints the README front matter's `preload_from_hub:` block — the Hub files the GPU defaults need,
per file, from the backends' own `weight_files("cuda")` — and `--write-readme` writes it into README.md (a test
compares the two, like the settings table), and into the ZeroGPU variant's deploy/zerogpu/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pathlib import Path

from core.settings import Settings
from core.vocabulary import INTENTS
from models import hub
from models.registry import CAPABILITY_MODULES

README = Path(__file__).resolve().parent.parent / "README.md"


def preload_specs(settings: Settings | None = None, device: str = "cuda") -> list[hub.HubFiles]:
    """The Hub files the default backends need on `device`, one entry per repository."""
    settings = (settings or Settings()).replace(device=device)
    specs = []
    for module_name in CAPABILITY_MODULES:
        for backend in importlib.import_module(module_name).capability(settings).backends:
            specs += backend.weight_files(device)
    return hub.merge(specs)


def preload_block(specs: list[hub.HubFiles]) -> list[str]:
    return ["preload_from_hub:"] + [f"  - {spec.preload_entry()}" for spec in specs]


def readme_preload_block(readme: Path = README) -> list[str]:
    """The `preload_from_hub:` lines of the README's front matter ([] when it has none)."""
    lines = readme.read_text().split("\n")
    end = lines.index("---", 1)
    try:
        start = lines.index("preload_from_hub:", 0, end)
    except ValueError:
        return []
    stop = start + 1
    while stop < end and lines[stop].startswith("  - "):
        stop += 1
    return lines[start:stop]


ZEROGPU_README = README.parent / "deploy" / "zerogpu" / "README.md"


def write_readme_preload(readme: Path = README) -> None:
    lines = readme.read_text().split("\n")
    end = lines.index("---", 1)
    old = readme_preload_block(readme)
    start = lines.index("preload_from_hub:", 0, end) if old else end
    lines[start:start + len(old)] = preload_block(preload_specs())
    readme.write_text("\n".join(lines))


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("capabilities", nargs="*", metavar="capability",
                        help=f"capabilities to fetch weights for (default: all): {', '.join(INTENTS)}")
    parser.add_argument("--device", help="fetch for this device (cpu, cuda…) instead of GATEWAY_DEVICE")
    parser.add_argument("--preload", action="store_true", help="print the README's preload_from_hub block and exit")
    parser.add_argument("--write-readme", action="store_true", help="write that block into README.md and exit")
    args = parser.parse_args(argv)
    if args.preload or args.write_readme:
        if args.write_readme:
            for readme in (README, ZEROGPU_README):
                write_readme_preload(readme)
        print("\n".join(preload_block(preload_specs())))
        return 0
    unknown = [name for name in args.capabilities if name not in INTENTS]
    if unknown:
        parser.error(f"unknown capability {', '.join(unknown)}; choose from {', '.join(INTENTS)}")
    settings = settings or Settings.from_env()
    if args.device:
        settings = settings.replace(device=args.device)
    modules = [f"models.{name}" for name in args.capabilities] or list(CAPABILITY_MODULES)
    failures = 0
    for module_name in modules:
        capability = importlib.import_module(module_name).capability(settings)
        if not capability.backends:
            print(f"{capability.name}: no backend, nothing to download")
        for backend in capability.backends:
            try:
                print(backend.download(), flush=True)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other backends
                failures += 1
                print(f"{capability.name}/{backend.name}: download failed: {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
