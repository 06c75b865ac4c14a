"""Fixtures of the optimizer tests: every compile here checks IR well-formedness after every pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from ronn_aot.stages.lower import VERIFY_IR_ENV


@pytest.fixture(autouse=True)
def verify_ir(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(VERIFY_IR_ENV, "1")
    yield


@pytest.fixture(scope="module")
def module_compile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """compile(model, opt_level) -> Artifact, for module-scoped fixtures (well-formedness checked)."""
    import ronn_aot

    out = tmp_path_factory.mktemp("passes")
    counter = [0]

    def _compile(model: Any, opt_level: int) -> Any:
        counter[0] += 1
        mp = pytest.MonkeyPatch()
        mp.setenv(VERIFY_IR_ENV, "1")
        try:
            opts = (ronn_aot.CompileOptions().with_optimization_level(opt_level)
                    .with_output(Path(out) / f"m{counter[0]}-O{opt_level}.so"))
            return ronn_aot.compile(model, opts)
        finally:
            mp.undo()

    return _compile
