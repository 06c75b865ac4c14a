"""Stage 5, schedule: give every kernel the plan uses a schedule, from the rules in `schedules/`.

For each kernel (a TIR PrimFunc) the target's rules are tried first-match; the first that returns
a schedule replaces the kernel with the scheduled function. A rule that fails on a kernel is
recorded and skipped (the next rule, at worst the fallback, takes it): a missed optimization must
never become a failed compile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .targets import Target

UNSCHEDULED = "none"  # what the report says for a kernel no rule took


@dataclass
class ScheduleReport:
    rule_of: dict[str, str] = field(default_factory=dict)  # kernel name -> rule name
    failures: list[str] = field(default_factory=list)  # "kernel: rule: error", one line each

    def kernels_by_rule(self) -> dict[str, list[str]]:
        by: dict[str, list[str]] = {}
        for kernel, rule in self.rule_of.items():
            by.setdefault(rule, []).append(kernel)
        return by


def schedule_kernel(func: Any, target: Target, tvm_target: Any,
                    report: ScheduleReport | None = None, name: str = "kernel") -> tuple[Any, str]:
    """(scheduled function, rule name) for one kernel; the function unchanged if no rule fits."""
    from ronn_aot.schedules import rules_for

    for info in rules_for(target.arch):
        try:
            with tvm_target:
                sch = info.rule.apply(func, tvm_target, False)
        except Exception as e:  # a rule bug on an unforeseen kernel: fall through to the next rule
            if report is not None:
                msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                report.failures.append(f"{name}: {info.name}: {msg}")
            continue
        if sch is not None:
            return sch.mod["main"], info.name
    return func, UNSCHEDULED


def schedule(mod: Any, kernels: list[str], target: Target, tvm_target: Any) -> tuple[Any, ScheduleReport]:
    """Schedule the PrimFuncs named in `kernels`; returns the updated module and what ran where."""
    report = ScheduleReport()
    for name in kernels:
        gv = mod.get_global_var(name)
        func, rule = schedule_kernel(mod[gv], target, tvm_target, report, name)
        mod[gv] = func
        report.rule_of[name] = rule
    return mod, report
