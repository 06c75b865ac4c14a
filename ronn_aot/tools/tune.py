"""`ronn-aot tune`: MetaSchedule (XGBoost cost model) over a model's kernels, recorded in a JSON
database under schedules/<target>/ that ships with the package and that `compile` applies.

Kernels are tuned one at a time, the most expensive first (rule-schedule time x calls per
inference, measured before the search), each with its share of the trials; `top` limits the search
to the kernels that matter and `minutes` bounds its wall-clock time. The rest keep their rules.

Why one at a time, not MetaSchedule's task scheduler over all kernels at once: its gradient
scheduler first gives every task one search iteration and only then collects any measurement
(no progress, no record saved, no cost-model update until every kernel has been searched and
built once: 45-55 s per kernel on 2 cores, half an hour for EfficientNet's 36), and a share of
fewer trials than one iteration leaves each kernel a single batch drawn by an untrained cost model.

Tuning is resumable: measured records are appended to the database as each batch comes back, and
a rerun skips kernels that already have their share of trials.

Where candidates are measured follows the target's run mode (`[run] mode` in targets/*.toml,
_builder_runner): a native target's are timed here by MetaSchedule's LocalRunner;
a qemu target's (aarch64, aarch64-dotprod on an x86 host) are cross-linked and executed under
qemu-user, and ranked by guest instruction count, reported as seconds at 1 instruction per ns
(qemu_runner.SECONDS_PER_INSTRUCTION), the rule baselines likewise, so records, baselines and the
cost model share one scale.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..stages.records import database_dir, open_database, workload_of
from ..options import CompileOptions
from ..targets import Target, get_target
from .qemu_runner import QemuTools, cross_builder, qemu_runner, uses_qemu
from .timing import RoundPlan

# Candidates per search iteration: the evolutionary search (population 512, ~15 s on 2 cores for a
# conv) runs once per batch, so a batch must be large enough to amortize it and small enough for
# steady progress (building one candidate takes ~1-3 s).
TRIALS_PER_ITER = 32
MIN_TRIALS = 8  # the smallest share of trials a tuned kernel gets


@dataclass
class Kernel:
    """One kernel of the model as tune sees it."""

    name: str
    func: Any
    calls: int  # per inference
    rule_seconds: float | None = None  # its rule schedule, per call (None: could not be measured)
    done: int = 0  # trials already in the database

    @property
    def cost(self) -> float:
        """Seconds per inference on the rule schedule: what tuning this kernel can win at most."""
        return (self.rule_seconds or 0.0) * self.calls


class _Progress:
    """One status line on stderr: trials measured of those planned, elapsed time, ETA."""

    def __init__(self, total: int, deadline: float | None) -> None:
        self.total, self.deadline = total, deadline
        self.done = 0
        self.start = time.perf_counter()
        self.kernel = ""
        self.stopped = False  # the deadline ended a search

    def draw(self) -> None:
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * max(self.total - self.done, 0) if self.done else float("nan")
        if self.deadline is not None:
            eta = min(eta, max(self.deadline - time.monotonic(), 0.0))
        width = 30
        filled = int(width * min(self.done, self.total) / max(self.total, 1))
        eta_text = "   ?" if eta != eta else f"{eta / 60:4.0f}"
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} trials, "
                         f"{elapsed / 60:4.0f} min elapsed, ETA {eta_text} min, {self.kernel[:40]:<40}")
        sys.stderr.flush()


class _DeadlinePassed(Exception):
    """Raised by the measure callback to end a search at the time budget: MetaSchedule's schedulers
    have no stop hook (ending the task from a callback trips their checks), and the records of the
    batch just measured are saved by then (the database callback runs first)."""


def _measure_callback(progress: _Progress) -> Any:
    """Advances `progress` after each measured batch, and stops the search once past the deadline."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class Progress(PyMeasureCallback):
        def apply(self, task_scheduler: Any, task_id: int, measure_candidates: Any,
                  builder_results: Any, runner_results: Any) -> None:
            progress.done += len(runner_results)
            progress.draw()
            if progress.deadline is not None and time.monotonic() >= progress.deadline:
                progress.stopped = True
                raise _DeadlinePassed

    return Progress()


TRIALS_FILE = "trials.json"  # workload key -> trials measured, kept when the database is pruned


def _trials_per_workload(database: Any, target: Target) -> dict[int, int]:
    """Measured trials (failed ones included) per workload, by structural hash: what a resumed
    run has already spent on each kernel (its records, or the count saved when they were pruned)."""
    import json

    import tvm_ffi

    counts: dict[int, int] = {}
    for rec in database.get_all_tuning_records():
        h = tvm_ffi.structural_hash(rec.workload.mod)
        counts[h] = counts.get(h, 0) + 1
    saved = database_dir(target) / TRIALS_FILE
    if saved.is_file():
        for key, n in json.loads(saved.read_text()).items():
            counts[int(key)] = max(counts.get(int(key), 0), int(n))
    return counts


def prune_database(target: Target) -> None:
    """Keep only each kernel's best record (all that compile reads: a full search is megabytes of
    records per model, and the database ships with the package), and save the trial counts so
    that a later run still knows what each kernel has had."""
    import shutil
    import tempfile

    from tvm.s_tir import meta_schedule as ms

    database = open_database(target)
    if database is None:
        return
    counts = _trials_per_workload(database, target)
    d = database_dir(target)
    with tempfile.TemporaryDirectory(prefix="ronn-prune-") as tmp:
        pruned = ms.database.JSONDatabase(f"{tmp}/w.json", f"{tmp}/r.json", allow_missing=True,
                                          module_equality="structural")
        database.dump_pruned(pruned)
        del pruned
        shutil.copyfile(f"{tmp}/w.json", d / "database_workload.json")
        shutil.copyfile(f"{tmp}/r.json", d / "database_tuning_record.json")
    _write_trials(target, counts)


def _write_trials(target: Target, counts: dict[int, int]) -> None:
    """Merge `counts` (workload hash -> trials) into the target's trials file, keeping the larger."""
    import json

    path = database_dir(target) / TRIALS_FILE
    saved = {int(k): int(v) for k, v in json.loads(path.read_text()).items()} if path.is_file() else {}
    for key, n in counts.items():
        saved[key] = max(saved.get(key, 0), n)
    path.write_text(json.dumps({str(k): v for k, v in sorted(saved.items())}, indent=1) + "\n")


class NotTunable(Exception):
    """A kernel whose schedule has no choices to tune (it keeps its rule's schedule)."""


def _space_generator(func: Any, arch: str, tvm_target: Any) -> Any:
    """The kernel's design space: the schedule of its rule (schedules/), with the rule's choices
    (tile sizes) as sampled instructions whose decisions start at the rule's. The search then
    tunes the rule's own schedule (register and cache tiles) and keeps what makes it fast: its
    loop structure, its epilogue placement and its weights pre-packed at compile time.
    MetaSchedule's generic space (multi-level tiling on the kernel as lowered) lost to the rules on
    every kernel we tuned with it, largely because it cannot repack the constant weights. The
    BitNet kernels have their own spaces (`bitnet.schedule.design_space`)."""
    from tvm.s_tir import meta_schedule as ms

    from ronn_aot.schedules.base import is_tunable

    from ..bitnet.schedule import design_space, has_design_space
    from ..stages.schedule import rule_schedule

    if has_design_space(func):
        return ms.space_generator.ScheduleFn(design_space)
    found = rule_schedule(func, arch, tvm_target, tunable=True)
    if found is None:
        raise NotTunable("no schedule rule fits it")
    rule = found[0]
    if not is_tunable(found[1]):
        raise NotTunable(f"its rule {rule} has no tunable choices")

    def space(sch: Any) -> Any:
        again = rule_schedule(sch.mod["main"], arch, tvm_target, tunable=True)
        if again is None or again[0] != rule:
            raise ValueError(f"rule {rule} no longer fits its kernel")
        return again[1]

    return ms.space_generator.ScheduleFn(space)


@dataclass
class TuneSummary:
    kernels: int
    tuned_now: int
    skipped: int
    trials: int  # planned for the kernels tuned now
    seconds: float
    database: Path
    untunable: list[str] = field(default_factory=list)  # "kernel: reason" MetaSchedule could not tune
    measured: int = 0  # trials measured by this run
    tuned: list[str] = field(default_factory=list)  # kernels searched by this run, most expensive first
    beat_rule: list[str] = field(default_factory=list)  # chosen kernels whose best record beats the rule
    model_check: str = ""  # the model timed with and without those records, and what was decided
    paired: int = 0  # chosen kernels whose rule and best record were timed back to back
    left_on_rules: list[str] = field(default_factory=list)  # below the top K, or past the deadline


def tune(model: Any, options: CompileOptions, trials: int, work_dir: Path | None = None,
         top: int | None = None, minutes: float | None = None,
         trials_per_iter: int = TRIALS_PER_ITER) -> TuneSummary:
    """Tune the kernels of `model` for `options.target` with about `trials` measurements in total:
    the `top` most expensive kernels (all by default), most expensive first, for at most `minutes`
    of search. `work_dir` keeps MetaSchedule's logs (work_dir/logs)."""
    import tvm_ffi

    from ..build import run_stages
    from ..stages.prepack import constant_params, with_constant_params

    start = time.perf_counter()
    deadline = None if minutes is None else time.monotonic() + 60.0 * minutes
    target = get_target(options.target)
    if uses_qemu(target):
        QemuTools(target)  # qemu, the cross toolchain, the harness and the counter: fail before planning
    # The cores the compile schedules for (the target's [isa] cores where it names them: a
    # quad-core board for aarch64, whatever machine compiles), else 2.
    num_cores = options.num_threads or (target.isa.cores if target.isa is not None and target.isa.cores else 2)
    tvm_target = target.tvm_target(num_cores)
    # The kernels exactly as the compile plans them (frozen inputs and bit-serial layers included).
    planned = run_stages(model, replace(options, num_threads=num_cores), Path("."), stop_after="plan")
    lowered, built = planned.mod, planned.built
    calls: dict[int, int] = {}
    for step in built.plan.steps:
        if step.kind == 0:
            calls[step.kernel] = calls.get(step.kernel, 0) + 1
    constant = constant_params(built.plan, built.kernels)
    database = open_database(target, create=True)
    done = _trials_per_workload(database, target)

    kernels: list[Kernel] = []
    untunable: list[str] = []
    for k, name in enumerate(built.kernels):
        # Annotated with its constant weights, as compile looks it up: the rules repack those.
        func = with_constant_params(lowered[lowered.get_global_var(name)], constant.get(name, []))
        mod = workload_of(func)
        try:
            # MetaSchedule's design-space generation aborts the whole run on a kernel its rules
            # cannot handle; probe each kernel first and keep its rule-based schedule instead.
            _space_context(mod, name, tvm_target, num_cores, target.arch).space_generator.generate_design_space(mod)
        except Exception as e:
            untunable.append(f"{name}: {str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__}")
            continue
        kernels.append(Kernel(name, func, calls.get(k, 1), done=done.get(tvm_ffi.structural_hash(mod), 0)))

    chosen_count = len(kernels) if top is None else min(top, len(kernels))
    per_task = max(trials // max(chosen_count, 1), MIN_TRIALS)
    if any(kn.done < per_task for kn in kernels):
        # Before the search, so that an interrupted run never leaves records without the rule
        # times that decide whether compile may use them; the times also rank the kernels.
        _record_baselines(kernels, constant, target, tvm_target)
    ranked = sorted(kernels, key=lambda kn: kn.cost, reverse=True)
    chosen = ranked[:chosen_count]
    todo = [kn for kn in chosen if kn.done < per_task]
    _seed_rule_records(todo, target.arch, tvm_target, database)
    progress = _Progress(sum(per_task - kn.done for kn in todo), deadline)
    tuned = _search(todo, per_task, progress, target, tvm_target, num_cores, database, work_dir,
                    trials_per_iter)
    # Every chosen kernel, not only those searched now: a resumed run re-times what it resumed.
    beat = _pair_records(chosen, constant, target, tvm_target, database)
    del database
    if tuned:
        prune_database(target)
    check = ""
    if beat and target.run.mode == "native" and target.run.command_prefix(target.arch) == []:
        check, kept = _confirm_in_model(model, options, target, [kn for kn in chosen if kn.name in beat])
        beat = beat if kept else []
    elif beat and uses_qemu(target):
        # Instruction counts add up over the model's kernels (no caches or neighbours in them):
        # a record that won its pair makes the model's count smaller by what it won.
        check = ("costs are guest instructions under qemu (1 ns = 1 instruction), additive over the "
                 "kernels: the records that won their pairs are kept without a model check")
    return TuneSummary(len(built.kernels), len(tuned), len(chosen) - len(todo), per_task * len(todo),
                       time.perf_counter() - start, database_dir(target), untunable, progress.done, tuned,
                       beat, check, len(chosen),
                       [kn.name for kn in ranked if kn.name not in tuned and kn.done < per_task])


# Each artifact in its own processes (timing.time_engines), rounds alternating: two pools in one
# process distort each other.
MODEL_CHECK_PLAN = RoundPlan(rounds=5, min_runs=8, min_seconds=0.5, settle=3)


def _confirm_in_model(model: Any, options: CompileOptions, target: Target,
                      winners: list[Kernel]) -> tuple[str, bool]:
    """Compile the model with the records that won their pairs and with the rules only, time both
    on the tune's thread count, and reject those records (baselines.reject) unless the model got
    MODEL_MIN_GAIN faster. Returns (what was measured and decided, whether the records stay)."""
    import tempfile

    from .. import compile as compile_model
    from ..stages.records import workload_key
    from .baselines import MODEL_MIN_GAIN, reject
    from .bench import random_feeds
    from .timing import Engine, ratio, time_engines

    threads = options.num_threads or 2
    with tempfile.TemporaryDirectory(prefix="ronn-tune-check-") as tmp:
        with_records = compile_model(model, options.with_output(Path(tmp) / "records.so"))
        rules = compile_model(model, options.with_records(False).with_output(Path(tmp) / "rules.so"))
        feeds = random_feeds(with_records.inputs)
        times = time_engines([Engine("records", "ronn", with_records.path), Engine("rules", "ronn", rules.path)],
                             feeds, threads, MODEL_CHECK_PLAN)[0]
    records_ms, rules_ms = times["records"].median, times["rules"].median
    gain = ratio(times["records"], times["rules"])
    measured = (f"model with the {len(winners)} winning records {records_ms:.3f} ms, rules only "
                f"{rules_ms:.3f} ms, ratio {gain:.3f} (each in its own processes, median of "
                f"{MODEL_CHECK_PLAN.rounds} alternating rounds, {threads} threads)")
    if gain <= 1.0 - MODEL_MIN_GAIN:
        return f"{measured}: records kept", True
    reject(database_dir(target), {workload_key(kn.func): measured for kn in winners})
    return f"{measured}: not {MODEL_MIN_GAIN:.0%} faster, records rejected (the rules stay)", False


def _search(todo: list[Kernel], per_task: int, progress: _Progress, target: Target, tvm_target: Any,
            num_cores: int, database: Any, work_dir: Path | None, trials_per_iter: int) -> list[str]:
    """Tune the kernels of `todo` in order, each up to `per_task` trials in the database, until the
    progress deadline; returns the names of those searched."""
    import tempfile

    import tvm_ffi
    from tvm.s_tir import meta_schedule as ms

    tuned: list[str] = []
    if not todo:
        return tuned
    builder, runner = _builder_runner(target, _host_workers(num_cores))
    callbacks = ms.MeasureCallback.create("default") + [_measure_callback(progress)]
    loggers = _loggers(work_dir, [kn.name for kn in todo])
    with tempfile.TemporaryDirectory(prefix="ronn-tune-") as tmp:  # tune_tasks wants a work_dir
        for kn, logger in zip(todo, loggers):
            if progress.stopped or (progress.deadline is not None and time.monotonic() >= progress.deadline):
                break
            progress.kernel = f"{kn.name} ({len(tuned) + 1}/{len(todo)})"
            progress.draw()
            before = progress.done
            remaining = per_task - kn.done
            ctx = _space_context(workload_of(kn.func), kn.name, tvm_target, num_cores, target.arch, logger)
            try:
                ms.tune_tasks(tasks=[ctx], task_weights=[1.0], work_dir=str(work_dir or tmp),
                              builder=builder, runner=runner, max_trials_global=remaining,
                              max_trials_per_task=remaining, num_trials_per_iter=min(trials_per_iter, remaining),
                              database=database, cost_model="xgb", measure_callbacks=callbacks)
            except Exception:
                if not progress.stopped:
                    raise  # not the deadline (which the FFI may hand back as its own error type)
            # A search that ran out of candidates (or hit the deadline) measured fewer than planned.
            progress.total -= remaining - (progress.done - before)
            tuned.append(kn.name)
            if not progress.stopped and (progress.deadline is None or time.monotonic() < progress.deadline):
                # It ran out of candidates: its space is spent, and a resumed run need not search
                # it again (a small design space, such as a ragged-row matmul's, has fewer
                # distinct schedules than the trials planned).
                _write_trials(target, {tvm_ffi.structural_hash(workload_of(kn.func)): per_task})
    sys.stderr.write("\n")
    return tuned


def _space_context(mod: Any, name: str, tvm_target: Any, num_cores: int, arch: str, logger: Any = None) -> Any:
    from tvm.s_tir import meta_schedule as ms

    space = _space_generator(mod["main"], arch, tvm_target)
    return ms.TuneContext(mod=mod, target=tvm_target, space_generator=space,
                          search_strategy="evolutionary", task_name=name, num_threads=_host_workers(num_cores),
                          logger=logger).clone()


def _builder_runner(target: Target, num_cores: int) -> tuple[Any, Any]:
    """The builder and runner that measure `target`'s kernels on this machine, by its run mode:
    under qemu (instruction counts, tools/qemu_runner.py) for a qemu target, else MetaSchedule's
    local ones (time)."""
    from tvm.s_tir import meta_schedule as ms

    from ..backends import tir_pipeline
    from .baselines import use_threads_in_runner

    if uses_qemu(target):
        return cross_builder(target, num_cores), qemu_runner(target)
    use_threads_in_runner(num_cores)
    # Generous timeouts: each builder/runner worker imports TVM first, which takes tens of seconds
    # on a loaded 2-core machine, and a timeout is recorded as a failed trial.
    # Candidates are built with the compile's TIR pipeline (register tiles on the stack).
    return (ms.builder.LocalBuilder(max_workers=num_cores, timeout_sec=300,
                                    f_build=tir_pipeline.METASCHEDULE_BUILD,
                                    initializer=tir_pipeline.register_metaschedule_build),
            ms.runner.LocalRunner(timeout_sec=120))


def _host_workers(num_cores: int) -> int:
    """Builder workers and search threads on this machine: the kernels' cores (a board's, for a
    cross target), at most this machine's CPUs."""
    import os

    return max(1, min(num_cores, os.cpu_count() or 1))


def _loggers(work_dir: Path | None, names: list[str]) -> list[Any]:
    """MetaSchedule's per-task loggers into work_dir/logs (design spaces, sampling and postproc
    failures, every trial), or None each: its logs then go nowhere."""
    if work_dir is None:
        return [None] * len(names)
    import logging

    from tvm.s_tir.meta_schedule.logging import get_loggers_from_work_dir

    loggers = list(get_loggers_from_work_dir(str(work_dir), names))
    # It also prints every scheduler step on stdout, between the progress line's updates: keep the
    # console to warnings, the files get everything.
    for handler in logging.getLogger("tvm.s_tir.meta_schedule").handlers:
        if handler.get_name().endswith(".console"):
            handler.setLevel(logging.WARNING)
    return loggers


def _record_baselines(kernels: list[Kernel], constant: dict[str, list[int]], target: Target,
                      tvm_target: Any) -> None:
    """Measure the rule schedule of every kernel (`rule_seconds`) and store the times beside the
    records (baselines.py): compile applies a record only where it beat its rule. Measured anew on
    every run, so a rule improved since an earlier run is what the records are compared with."""
    from ..stages.records import workload_key
    from .baselines import measure_rules, save_baselines

    seconds = measure_rules([(kn.func, constant.get(kn.name, [])) for kn in kernels], target.arch, tvm_target,
                            target)
    for kn, s in zip(kernels, seconds):
        kn.rule_seconds = s
    save_baselines(database_dir(target), {workload_key(kn.func): (kn.name, s) for kn, s in zip(kernels, seconds)
                                          if s is not None})


def _seed_rule_records(kernels: list[Kernel], arch: str, tvm_target: Any, database: Any) -> None:
    """Commit each new kernel's rule schedule, a point of its design space, with the time just
    measured. MetaSchedule's evolutionary search starts from the database's best records besides
    random points of the space, so its mutations start at the rule's tiles. The record is the
    rule's own schedule: compile applies only records that beat it (baselines.py)."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.database import TuningRecord

    from ronn_aot.schedules.base import is_tunable

    from ..bitnet.schedule import has_design_space
    from ..stages.schedule import rule_schedule

    for kn in kernels:
        if kn.done or kn.rule_seconds is None or has_design_space(kn.func):
            continue
        mod = workload_of(kn.func)
        found = rule_schedule(mod["main"], arch, tvm_target, tunable=True)
        if found is None or not is_tunable(found[1]):
            continue
        sch = found[1]
        database.commit_tuning_record(TuningRecord(sch.trace, database.commit_workload(mod), [kn.rule_seconds],
                                                   tvm_target, ArgInfo.from_prim_func(sch.mod["main"])))
        kn.done = 1


def _pair_records(kernels: list[Kernel], constant: dict[str, list[int]], target: Target, tvm_target: Any,
                  database: Any) -> list[str]:
    """Time each kernel's rule and best record back to back, store the rule's time on the scale of
    the record's database time (baselines.py) and return the kernels whose record won the pair."""
    from ..stages.records import beats, load_baselines, record_seconds, workload_key
    from .baselines import measure_pairs, record_is_rule, reject, save_baselines

    # Where the search found nothing better than the rule's own schedule (its seed), the rule
    # stays, with the time the seed was committed with.
    kernels = [kn for kn in kernels
               if not record_is_rule(kn.func, constant.get(kn.name, []), target.arch, tvm_target, database)]
    if not kernels:
        return []
    pairs = measure_pairs([(kn.func, constant.get(kn.name, [])) for kn in kernels], target.arch, tvm_target,
                          database, target)
    measured, paired, won, unpaired = {}, {}, [], {}
    for kn, pair in zip(kernels, pairs):
        in_database = record_seconds(kn.func, tvm_target, database)
        if in_database is None:
            continue  # no record: nothing to apply
        key = workload_key(kn.func)
        if pair is None:
            # Neither this pair nor the model check can vouch for the record, and the rule time
            # from before the search would let compile apply it unchecked (such a record once made light
            # ResNet-50 0.3% slower). The rule stays.
            unpaired[key] = (kn.name, "its rule and best record could not be timed back to back "
                                      "after the search")
            continue
        rule, record = pair
        measured[key], paired[key] = (kn.name, rule * in_database / record), pair
        if beats(record, rule):
            won.append(kn.name)
    if unpaired:
        # reject() marks existing entries: give a kernel without one (its rule time could not be
        # measured before the search either) an entry, and keep the others' pre-search times.
        known = load_baselines(database_dir(target))
        measured.update({k: (name, 0.0) for k, (name, _) in unpaired.items() if k not in known})
    save_baselines(database_dir(target), measured, paired)
    if unpaired:
        reject(database_dir(target), {k: why for k, (_, why) in unpaired.items()})
    return won
