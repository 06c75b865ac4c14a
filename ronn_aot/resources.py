"""Where the compiler's data files are: target descriptions and the artifact ABI header.

An installed wheel carries them inside the package (pyproject.toml maps the checkout's top-level
`targets/` to `ronn_aot/targets_data/` and `runtime_min/include/` to `ronn_aot/include/`); a
source checkout (editable install) reads the top-level folders themselves. The tuning records
travel the same way as the `ronn_aot.schedules` package (`schedules/` in the checkout).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import RonnError

# gcc reads the header and the loader reads the targets from the file system, so the package is
# used as files on disk (pip always installs it that way), never from a zip.
_PACKAGE = Path(str(files("ronn_aot")))
_CHECKOUT = _PACKAGE.parent if (_PACKAGE.parent / "runtime_min" / "Makefile").is_file() else None


def _locate(packaged: str, checkout: str, what: str) -> Path:
    candidates = [_PACKAGE / packaged] + ([_CHECKOUT / checkout] if _CHECKOUT is not None else [])
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise RonnError(
        f"ronn-aot's {what} were not found (looked in {', '.join(map(str, candidates))}); the "
        f"installation is incomplete: reinstall it with `pip install ronn-aot` or, in a checkout, "
        f"`pip install -e .`")


def targets_dir() -> Path:
    """The folder of target descriptions (`<name>.toml`)."""
    return _locate("targets_data", "targets", "target descriptions")


def runtime_include_dir() -> Path:
    """The include folder holding `ronn/artifact_abi.h` (and `ronn/runtime.h`)."""
    return _locate("include", "runtime_min/include", "runtime headers")


def runtime_source_dir() -> Path:
    """runtime_min's source tree (Makefile, C sources): in a source checkout only; installed
    users get the built runtime from the `ronn-runtime` wheel instead."""
    if _CHECKOUT is None:
        raise RonnError(
            "building runtime_min needs its C sources, which only a source checkout of ronn-aot "
            "has; install the prebuilt runtime with `pip install ronn-runtime` instead")
    return _CHECKOUT / "runtime_min"
