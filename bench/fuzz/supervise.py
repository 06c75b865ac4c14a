"""Run fuzz cases in child processes that may crash or hang: a child handles a list of items and
prints one result line per item, in order; when it dies or goes silent past the timeout, the first
item without a result is recorded as a crash or a hang and a new child resumes after it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

CRASH = "CRASH"
HANG = "HANG"
EXIT_ERROR = "EXIT_ERROR"  # every item answered, then the child failed (e.g. LeakSanitizer at exit)


@dataclass
class Outcome:
    results: dict[str, str] = field(default_factory=dict)  # item -> result
    details: dict[str, str] = field(default_factory=dict)  # item -> stderr tail for crashes/hangs


def _reader(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put(None)


def supervise(items: Sequence[str], command: Callable[[Sequence[str]], list[str]],
              parse: Callable[[str], tuple[str, str] | None], timeout: float,
              env: dict[str, str] | None = None, on_result: Callable[[str, str], None] | None = None) -> Outcome:
    """Run `command(remaining items)` until every item has a result. `parse` maps an output line
    to (item, result) or None (other output); results must come in the order of the items."""
    outcome = Outcome()
    pending = list(items)
    while pending:
        first = pending[0]
        err_path = f"/tmp/ronn-fuzz-stderr-{os.getpid()}-{threading.get_ident()}"
        with open(err_path, "w+") as err:
            proc = subprocess.Popen(command(pending), stdout=subprocess.PIPE, stderr=err, text=True,
                                    env=env, start_new_session=True, errors="replace")
            lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
            hung = False
            while pending:
                try:
                    line = lines.get(timeout=timeout)
                except queue.Empty:
                    hung = True
                    break
                if line is None:
                    break
                parsed = parse(line)
                if parsed is None:
                    continue
                item, result = parsed
                if item != pending[0]:
                    raise RuntimeError(f"fuzz worker answered for {item!r}, expected {pending[0]!r}")
                outcome.results[item] = result
                if on_result is not None:
                    on_result(item, result)
                pending.pop(0)
            if not hung:
                try:  # every item answered (or the child died): let it exit on its own
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    hung = bool(pending)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if pending and (hung or proc.returncode != 0 or line is None):
                err.seek(0)
                outcome.details[pending[0]] = err.read()[-4000:] + f"\n(exit status {proc.returncode})"
                result = HANG if hung else CRASH
                outcome.results[pending[0]] = result
                if on_result is not None:
                    on_result(pending[0], result)
                pending.pop(0)
            elif not pending and proc.returncode != 0:
                err.seek(0)
                item = f"{first}..{items[-1]}"
                outcome.details[item] = err.read()[-4000:] + f"\n(exit status {proc.returncode})"
                if on_result is not None:
                    on_result(item, EXIT_ERROR)
        os.unlink(err_path)
    return outcome
