"""`python -m models.download [capability…]`: fetch the configured weights of capabilities ahead of time.

For Docker images, Spaces (`preload_from_hub`) and machines that are offline at run time: it calls
`download()` on every backend of the named capabilities (all of them when none is named), with the same
settings the app reads from `GATEWAY_*` variables, so exactly the configured models land in the
huggingface_hub cache (or the library's own cache). `--device cuda` pre-fetches what a GPU host would use
from a machine without one. A failing backend is reported and the others still run; the exit status is 1
when any failed. Never run by the tests: it downloads.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core.settings import Settings
from core.vocabulary import INTENTS
from models.registry import CAPABILITY_MODULES


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("capabilities", nargs="*", metavar="capability",
                        help=f"capabilities to fetch weights for (default: all): {', '.join(INTENTS)}")
    parser.add_argument("--device", help="fetch for this device (cpu, cuda…) instead of GATEWAY_DEVICE")
    args = parser.parse_args(argv)
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
