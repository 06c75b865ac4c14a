"""The `ronn-run` command of the wheels: replaces this process with the C ronn-run shipped in
this package, so it behaves (arguments, output, exit codes) exactly as the binary does."""

from __future__ import annotations

import os
import sys

from ._capi import bundled


def main() -> None:
    candidates = bundled("ronn-run")
    binary = next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)
    if binary is None:
        sys.exit(f"ronn-run: the executable was not found (looked at "
                 f"{', '.join(map(str, candidates))}); reinstall the ronn-runtime wheel or build it "
                 f"with `make -C runtime_min`")
    os.execv(binary, [sys.argv[0], *sys.argv[1:]])
