"""Stage 5, schedule: give every kernel the plan uses a schedule, from tuning records or from the
rules in `schedules/`.

A kernel with a record in the target's MetaSchedule database (`ronn-aot tune`, schedules/<target>/)
gets its best tuned schedule, if that record measured faster than the kernel's rule schedule when it
was tuned (baselines.py). Otherwise the target's rules are tried first-match; the first that returns
a schedule replaces the kernel with the scheduled function. A rule that fails on a kernel is
recorded and skipped (the next rule, at worst the fallback, takes it): a missed optimization must
never become a failed compile.

On GPU targets the device rules (`rules_for("cuda")`) are tried first; the first schedule that
TVM's CUDA pipeline accepts puts the kernel on the device. A kernel that none of them schedules
runs on the host, scheduled by the host architecture's rules; the place stage then inserts the
copies between the two memories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .prepack import CONSTANT_PARAMS_ATTR, Packing, packed_params, with_constant_params
from ..targets import Target

UNSCHEDULED = "none"  # what the report says for a kernel no rule took
TUNED = "tuned"  # what the report says for a kernel scheduled from a tuning record
HOST = "host"  # where a kernel of a GPU target runs when no device rule fits


@dataclass
class ScheduleReport:
    rule_of: dict[str, str] = field(default_factory=dict)  # kernel name -> rule name
    failures: list[str] = field(default_factory=list)  # "kernel: rule: error", one line each
    device_of: dict[str, str] = field(default_factory=dict)  # GPU targets: kernel -> "cuda" | "host"
    packed: dict[str, list[Packing]] = field(default_factory=dict)  # kernel -> weights it repacked

    def on_device(self) -> set[str]:
        return {k for k, d in self.device_of.items() if d != HOST}

    def kernels_by_rule(self) -> dict[str, list[str]]:
        by: dict[str, list[str]] = {}
        for kernel, rule in self.rule_of.items():
            by.setdefault(rule, []).append(kernel)
        return by


def rule_schedule(func: Any, arch: str, tvm_target: Any, report: ScheduleReport | None = None,
                  name: str = "kernel", refuses: Callable[[Any], str | None] | None = None,
                  tunable: bool = False) -> tuple[str, Any] | None:
    """(rule name, tvm.s_tir.Schedule) from the first rule of `arch` that fits `func`, or None.

    `refuses(scheduled)` may reject a schedule with a reason; the next rule is tried then.
    `tunable`: the rule's design space for tuning (its choices as sampled instructions whose
    decisions are the rule's), which schedules the kernel exactly as the rule does."""
    from ronn_aot.schedules import rules_for

    for info in rules_for(arch):
        try:
            with tvm_target:
                sch = info.rule.apply(func, tvm_target, tunable)
        except Exception as e:  # a rule bug on an unforeseen kernel: fall through to the next rule
            if report is not None:
                msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                report.failures.append(f"{name}: {info.name}: {msg}")
            continue
        if sch is None:
            continue
        reason = refuses(sch.mod["main"]) if refuses is not None else None
        if reason is None:
            return info.name, sch
        if report is not None:
            report.failures.append(f"{name}: {info.name}: {reason}")
    return None


def scheduled_func(func: Any, sch: Any) -> tuple[Any, list[Packing]]:
    """(the scheduled function, the weights its schedule repacked) of a schedule of `func`."""
    scheduled = sch.mod["main"]
    if scheduled.attrs is not None and CONSTANT_PARAMS_ATTR in scheduled.attrs:
        scheduled = scheduled.without_attr(CONSTANT_PARAMS_ATTR)
    return scheduled, packed_params(func, sch)


def _first_rule(func: Any, arch: str, tvm_target: Any, report: ScheduleReport | None, name: str,
                refuses: Callable[[Any], str | None] | None = None) -> tuple[Any, str, list[Packing]] | None:
    """(scheduled function, rule name, repacked weights) from the first rule of `arch` that fits,
    or None (see `rule_schedule`)."""
    found = rule_schedule(func, arch, tvm_target, report, name, refuses)
    if found is None:
        return None
    scheduled, packings = scheduled_func(func, found[1])
    return scheduled, found[0], packings


def schedule_kernel(func: Any, target: Target, tvm_target: Any,
                    report: ScheduleReport | None = None, name: str = "kernel") -> tuple[Any, str]:
    """(scheduled function, rule name) for one host kernel; the function unchanged if no rule fits.
    Without the constant-parameter annotation (see prepack.py) no rule repacks a weight."""
    found = _first_rule(func, target.arch, tvm_target, report, name)
    return (found[0], found[1]) if found is not None else (func, UNSCHEDULED)


def _device_kernel(func: Any, target: Target, tvm_target: Any, report: ScheduleReport,
                   name: str) -> tuple[Any, str] | None:
    """The first device rule's schedule that the device backend lowers, or None."""
    from ..backends import device_backend

    backend = device_backend(target)
    found = _first_rule(func, target.device_kind, tvm_target, report, name,
                        refuses=lambda f: backend.lowering_error(f, tvm_target))
    return (found[0], found[1]) if found is not None else None


def schedule(mod: Any, kernels: list[str], target: Target, tvm_target: Any,
             constant: dict[str, list[int]] | None = None, use_records: bool = True) -> tuple[Any, ScheduleReport]:
    """Schedule the PrimFuncs named in `kernels`; returns the updated module and what ran where.
    `constant`: per kernel, the parameters that are weights at every call (prepack.py); rules may
    repack those, and `report.packed` says which they did. `use_records`: False schedules every
    kernel with the rules (the target's tuning database is not opened)."""
    from .records import apply_records, database_dir, load_baselines, open_database, record_beats_rule, workload_key

    report = ScheduleReport()
    # Tuning records are keyed by the annotated kernel: a tuned schedule repacks weights as the
    # rule it was tuned from does.
    annotated_of = {name: with_constant_params(mod[mod.get_global_var(name)], (constant or {}).get(name, []))
                    for name in kernels}
    baselines = load_baselines(database_dir(target))
    # Opening a database parses every kernel tuned for the target (~2 s for the shipped avx512
    # one): only when a kernel of this model was measured by a tune (has a baseline), or when the
    # database has no baselines at all.
    wanted = use_records and (not baselines or any(workload_key(f) in baselines for f in annotated_of.values()))
    database = open_database(target) if wanted else None
    host_target = tvm_target if target.device_kind is None else tvm_target.host
    for name in kernels:
        gv = mod.get_global_var(name)
        annotated = annotated_of[name]
        tuned = apply_records(annotated, tvm_target, database) if database is not None else None
        if tuned is not None and not record_beats_rule(annotated, tvm_target, database, baselines):
            tuned = None  # the rule measured faster than the best record when it was tuned
        on_device = None if target.device_kind is None else _device_kernel(mod[gv], target, tvm_target, report, name)
        if target.device_kind is not None:
            report.device_of[name] = "cuda" if on_device is not None else HOST
        packings: list[Packing] = []
        if on_device is not None:
            func, rule = on_device
        elif tuned is not None:
            (func, packings), rule = scheduled_func(annotated, tuned), TUNED
        else:
            found = _first_rule(annotated, target.arch, host_target, report, name)
            func, rule = (found[0], found[1]) if found is not None else (mod[gv], UNSCHEDULED)
            packings = found[2] if found is not None else []
        if packings:
            report.packed[name] = packings
        mod[gv] = func
        report.rule_of[name] = rule
    return mod, report
