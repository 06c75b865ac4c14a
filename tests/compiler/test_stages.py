"""The compiler's stages as a list (ronn_aot/build.py): they run in order, skip what does not
apply, stop where asked (`--stop-after`), dump the IR after each, and the full list makes the same
artifact as `compile`."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from graphs import CASES
from ronn_aot import CompileOptions
from ronn_aot.build import STAGE_NAMES, STAGES, run_stages
from ronn_aot.cli import main as cli_main
from ronn_aot.errors import RonnError


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, _ = CASES["residual_block"]()
    path = tmp_path_factory.mktemp("stages") / "m.onnx"
    onnx.save(model, str(path))
    return path


def test_stage_names_are_unique_and_end_with_pack() -> None:
    names = [s.name for s in STAGES]
    assert len(set(names)) == len(names) and STAGE_NAMES[-1] == "pack"
    assert names.index("import") < names.index("lower") < names.index("plan") < names.index("schedule") \
        < names.index("codegen")


def test_stop_after_runs_only_the_stages_that_apply(model_path: Path, tmp_path: Path) -> None:
    state = run_stages(model_path, CompileOptions().with_target("x86_64-avx2"), tmp_path, stop_after="plan")
    assert state.done == ["import", "lower", "plan"]  # no frozen input, no --bitnet
    assert state.built is not None and state.built.kernels and state.scheduled is None and not state.objects
    full = run_stages(model_path, CompileOptions().with_target("x86_64-avx2"), tmp_path)
    assert full.done == ["import", "lower", "plan", "schedule", "align", "codegen"]
    assert full.objects == [tmp_path / "kernels.o"] and (tmp_path / "kernels.o").stat().st_size > 0


def test_unknown_stage_is_a_clear_error(model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(RonnError, match="unknown stage 'optimize'.*stages: freeze, import"):
        run_stages(model_path, CompileOptions(), tmp_path, stop_after="optimize")


def test_cli_stop_after_dumps_ir_and_writes_no_artifact(model_path: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out, dump = tmp_path / "m.so", tmp_path / "ir"
    assert cli_main(["compile", str(model_path), "--target", "x86_64-avx2", "-o", str(out),
                     "--stop-after", "schedule", "--dump-ir", str(dump)]) == 0
    text = capsys.readouterr().out
    assert "stopped after schedule; stages run: import" in text and "kernels" in text
    assert not out.exists()
    stages = sorted(p.name for p in dump.glob("stage-*.py"))
    assert stages == ["stage-01-import.py", "stage-02-lower.py", "stage-03-plan.py", "stage-04-schedule.py"]
    assert "def main" in (dump / "stage-04-schedule.py").read_text()
