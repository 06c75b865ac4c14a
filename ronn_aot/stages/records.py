"""Tuning records as the schedule stage reads them: the target's MetaSchedule database under
schedules/<target>/ (written by `ronn-aot tune`) and the rule baselines beside it, which decide
whether a record may replace the rule schedule (tools/baselines.py explains how they are measured).

This lives with the stages so that compiling never imports the tuner: tools/tune.py and
tools/baselines.py write what this module reads.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from ..targets import Target

# The `ronn_aot.schedules` package (schedules/ in the checkout), found without importing the rules:
# the databases ship inside it as package data.
SCHEDULES_DIR = Path(__file__).resolve().parents[2] / "schedules"
_spec = importlib.util.find_spec("ronn_aot.schedules")
if _spec is not None and _spec.origin is not None:
    SCHEDULES_DIR = Path(_spec.origin).resolve().parent
def database_dir(target: Target) -> Path:
    return SCHEDULES_DIR / target.name


def open_database(target: Target, create: bool = False) -> Any | None:
    """The target's record database, or None when it has none (and `create` is False)."""
    from tvm.s_tir import meta_schedule as ms

    d = database_dir(target)
    workload, records = d / "database_workload.json", d / "database_tuning_record.json"
    if not create and not records.is_file():
        return None
    d.mkdir(parents=True, exist_ok=True)
    return ms.database.JSONDatabase(str(workload), str(records), allow_missing=True,
                                    module_equality="structural")


def workload_of(func: Any, own_copy: bool = True) -> Any:
    """The IRModule a kernel is tuned and looked up as (one PrimFunc named main), on its own copy
    of the kernel's body. A TVM schedule edits a function it owns alone in place, statements
    included, and `with_attr` copies only the function: replaying a record on a module of that
    copy (query_schedule) rewrote the caller's kernel, so that the rule applied after it saw an
    already scheduled loop nest. `own_copy=False`: sharing the body, for hashing only."""
    import tvm

    main = func.with_attr("global_symbol", "main")
    return tvm.IRModule({"main": tvm.ir.load_json(tvm.ir.save_json(main)) if own_copy else main})


def apply_records(func: Any, tvm_target: Any, database: Any) -> Any | None:
    """The schedule of the kernel's best tuning record (a tvm.s_tir.Schedule, whose trace says
    which weights it repacks), or None when the database has none."""
    return database.query_schedule(workload_of(func), tvm_target, workload_name="main")


BASELINES_FILE = "rule_baselines.json"


def workload_key(func: Any) -> str:
    import tvm_ffi

    return str(tvm_ffi.structural_hash(workload_of(func, own_copy=False)))


def baselines_path(database_dir: Path) -> Path:
    return database_dir / BASELINES_FILE


def load_baselines(database_dir: Path) -> dict[str, float]:
    """Workload key -> seconds of the rule schedule, as measured when the kernel was tuned; 0 for
    a kernel whose record was rejected in the model (no record beats a rule time of 0)."""
    path = baselines_path(database_dir)
    if not path.is_file():
        return {}
    return {k: 0.0 if v.get("rejected") else float(v["seconds"]) for k, v in json.loads(path.read_text()).items()}


def record_seconds(func: Any, tvm_target: Any, database: Any) -> float | None:
    """Mean measured time of the best record for `func`, or None when it has none."""
    rec = database.query_tuning_record(workload_of(func), tvm_target, "main")
    if rec is None or not rec.run_secs:
        return None
    secs = [float(s) for s in rec.run_secs]
    return sum(secs) / len(secs)


# A record replaces its rule only when it measured at least this much faster: a kernel timed alone
# gains a few percent that the model does not see (EfficientNet-Lite0: two records 2-3% faster in
# their pairs, the model 1-5% slower with them; light ResNet-50's, 10-14% faster, made it faster).
MIN_GAIN = 0.05
def beats(record: float, rule: float) -> bool:
    """Whether a record's time beats the rule's by the margin that makes it worth applying."""
    return record < rule * (1.0 - MIN_GAIN)


def record_beats_rule(func: Any, tvm_target: Any, database: Any, baselines: dict[str, float]) -> bool:
    """Whether the best record of `func` was measured faster than its rule schedule, by MIN_GAIN
    (True when no baseline was measured: databases made before baselines existed keep working)."""
    base = baselines.get(workload_key(func))
    if base is None:
        return True
    secs = record_seconds(func, tvm_target, database)
    return secs is not None and beats(secs, base)
