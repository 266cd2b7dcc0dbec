"""`python -m models.download [capability…]`: fetch the configured weights of capabilities ahead of time.

For Docker images and machines that are offline at run time: it calls `download()` on every backend of the
named capabilities (all of them when none is named), with the same settings the app reads from `GATEWAY_*`
variables, so exactly the configured models land in the huggingface_hub cache (or the library's own cache).
`--device cuda` pre-fetches what a GPU host would use from a machine without one. Each backend's fetch is tried
up to `--retries` times (waiting 5 s, 10 s, … between), so one flaky download does not fail a Docker build. A
backend that still fails is reported and the others still run: when its capability has another backend that is
ready (an embedded one), the line says it was skipped and the exit status stays 0 (it downloads on first use);
the exit status is 1 only when a capability is left with nothing that can serve it.

`--preload` prints the README front matter's `preload_from_hub:` block — the Hub files the GPU defaults need,
per file, from the backends' own `weight_files("cuda")` — and `--write-readme` writes it into README.md (a test
compares the two, like the settings table), and into the ZeroGPU variant's deploy/zerogpu/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from core.settings import Settings
from core.vocabulary import INTENTS
from models import hub
from models.registry import CAPABILITY_MODULES

README = Path(__file__).resolve().parent.parent / "README.md"
RETRY_WAIT_S = 5.0  # before the second try; doubled before each further one


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


def fetch_with_retries(capability: str, backend, tries: int) -> str:
    """backend.download(), tried up to `tries` times; the last failure is raised."""
    for attempt in range(1, max(1, tries) + 1):
        try:
            return backend.download()
        except Exception as exc:  # noqa: BLE001 - any failure may be a flaky network: try again
            if attempt >= tries:
                raise
            wait = RETRY_WAIT_S * 2 ** (attempt - 1)
            print(f"{capability}/{backend.name}: try {attempt} of {tries} failed ({type(exc).__name__}: {exc}); "
                  f"trying again in {wait:g} s", file=sys.stderr, flush=True)
            time.sleep(wait)
    raise AssertionError("unreachable")


def report_failure(capability, backend, exc: Exception, tries: int) -> bool:
    """Print what a failure means; True when the capability is left with nothing that can serve it."""
    what = f"{capability.name}/{backend.name}: download failed after {tries} tries: {type(exc).__name__}: {exc}"
    fallback = next((b for b in capability.backends if b is not backend and b.status().ready), None)
    if fallback is not None:
        print(f"{what}. Skipped: {capability.name} is served by {fallback.name} until {backend.name}'s weights "
              "download on first use.", file=sys.stderr, flush=True)
        return False
    print(f"{what}. Nothing else can serve {capability.name}.", file=sys.stderr, flush=True)
    return True


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("capabilities", nargs="*", metavar="capability",
                        help=f"capabilities to fetch weights for (default: all): {', '.join(INTENTS)}")
    parser.add_argument("--device", help="fetch for this device (cpu, cuda…) instead of GATEWAY_DEVICE")
    parser.add_argument("--retries", type=int, default=3, help="tries per backend (default 3)")
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
    unserved = 0
    for module_name in modules:
        capability = importlib.import_module(module_name).capability(settings)
        if not capability.backends:
            print(f"{capability.name}: no backend, nothing to download")
        for backend in capability.backends:
            try:
                print(fetch_with_retries(capability.name, backend, args.retries), flush=True)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other backends
                unserved += report_failure(capability, backend, exc, args.retries)
    return 1 if unserved else 0


if __name__ == "__main__":
    raise SystemExit(main())
