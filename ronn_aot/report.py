"""Human-readable compile report (`ronn-aot compile --report`)."""

from __future__ import annotations

from typing import Any


def format_compile_report(art: Any) -> str:
    lines = [f"{'pass':<28}{'ms':>9}{'kernels':>16}{'bindings':>18}"]
    for r in art.lower_report.passes:
        lines.append(f"{r.name:<28}{r.seconds * 1e3:>9.1f}{r.kernels_before:>7} -> {r.kernels_after:<6}"
                     f"{r.bindings_before:>8} -> {r.bindings_after:<6}")
    lines.append("stages: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in art.stage_seconds.items()))
    lines.append(f"kernels: {art.num_kernels} distinct, {art.num_steps} plan steps; "
                 f"arena {art.arena_size} bytes; weights {art.footer.weights_size} bytes; "
                 f"code {art.footer.code_size} bytes")
    return "\n".join(lines)
