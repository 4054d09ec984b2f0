"""Where the project's npm packages are: solc and @prb/math (compiler), anvil (chain)."""

from __future__ import annotations

import os
from pathlib import Path


def find_node_modules(*entries: str) -> Path | None:
    """$ML2SC_NODE_MODULES if set, else the first ``node_modules`` holding every one of
    ``entries`` found walking up from this package or from the cwd; None if there is none."""
    env = os.environ.get("ML2SC_NODE_MODULES")
    if env:
        return Path(env)
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in (start, *start.parents):
            candidate = parent / "node_modules"
            if all((candidate / entry).exists() for entry in entries):
                return candidate
    return None
