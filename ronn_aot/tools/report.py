"""Human-readable compile report (`ronn-aot compile --report`)."""

from __future__ import annotations

from typing import Any


def format_compile_report(art: Any) -> str:
    lowered = art.lower_report
    lines = [f"-O{art.opt_level}: graph passes ran {lowered.graph_rounds} round(s)"
             + ("" if lowered.converged else " and stopped at the round limit while still changing"),
             f"{'pass':<28}{'round':>6}{'ms':>9}{'kernels':>16}{'bindings':>18}"]
    for r in lowered.passes:
        lines.append(f"{r.name:<28}{r.round or '':>6}{r.seconds * 1e3:>9.1f}{r.kernels_before:>7} -> "
                     f"{r.kernels_after:<6}{r.bindings_before:>8} -> {r.bindings_after:<6}")
    by_rule = art.schedule_report.kernels_by_rule()
    if by_rule:
        lines.append("schedules: " + ", ".join(f"{rule} {len(ks)}" for rule, ks in sorted(by_rule.items())))
        device_of = art.schedule_report.device_of
        for kernel, rule in art.schedule_report.rule_of.items():
            where = f"{device_of[kernel]:<6}" if device_of else ""
            lines.append(f"  {kernel:<44}{where}{rule}")
    for failure in art.schedule_report.failures:
        lines.append(f"  rule skipped after an error: {failure}")
    if art.schedule_report.device_of:
        lines.append(_device_summary(art))
    lines.append("stages: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in art.stage_seconds.items()))
    lines.append(f"kernels: {art.num_kernels} distinct, {art.num_steps} plan steps; "
                 f"arena {art.arena_size} bytes; weights {art.footer.weights_size} bytes; "
                 f"code {art.footer.code_size} bytes")
    return "\n".join(lines)


def _device_summary(art: Any) -> str:
    """Where the kernels of a GPU target run, the copies between the memories, the images."""
    on = art.schedule_report.on_device()
    host = sorted(set(art.schedule_report.device_of) - on)
    line = f"device: {len(on)} kernel(s) on the GPU, {len(host)} on the host" + (f" ({', '.join(host)})" if host else "")
    if art.placement is not None:
        line += (f"; copies: {art.placement.copies_to_device} to the device, {art.placement.copies_to_host} "
                 f"to the host; device arena {art.placement.device_arena_size} bytes")
    if art.device_module is not None:
        images = ", ".join(f"{i.format.name.lower()} {i.arch} ({len(i.data)} bytes)" for i in art.device_module.images)
        line += f"; images: {images}"
    return line
