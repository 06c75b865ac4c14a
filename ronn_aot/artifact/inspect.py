"""Read what an artifact holds without loading it (works for any target's artifacts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .format import ArtifactFormatError, Footer, Plan, Storage, read_footer, read_plan
from .signing import Signature, SigningError, read_signature
from ..dual.format import read_dual
from ..errors import ArtifactError


@dataclass
class ArtifactInfo:
    path: Path
    file_size: int
    footer: Footer
    plan: Plan
    signature: Signature | None = None  # found, not verified: the runtime checks it against its keys
    router: Any = None  # dual artifacts: the RouterParams decoded from the dual blob

    @property
    def metadata(self) -> dict[str, Any]:
        return self.plan.metadata

    def io(self, which: str) -> list[dict[str, Any]]:
        ids = self.plan.inputs if which == "inputs" else self.plan.outputs
        return [{"name": self.plan.tensors[i].name, "dtype": self.plan.tensors[i].dtype,
                 "shape": list(self.plan.tensors[i].shape)} for i in ids]

    def to_dict(self) -> dict[str, Any]:
        kernels = {s.kernel for s in self.plan.steps if s.kind == 0}
        return {
            "path": str(self.path), "abi_version": self.footer.abi_version,
            "target": self.metadata.get("target"), "opt_level": self.metadata.get("opt_level"),
            "producer": self.metadata.get("producer"),
            "inputs": self.io("inputs"), "outputs": self.io("outputs"),
            "file_bytes": self.file_size, "code_bytes": self.footer.code_size,
            "weights_bytes": self.footer.weights_size, "plan_bytes": self.footer.plan_size,
            "arena_bytes": self.plan.arena_size, "kernels": len(kernels), "steps": len(self.plan.steps),
            "weight_tensors": sum(1 for t in self.plan.tensors if t.storage == Storage.WEIGHTS),
            "sha256": self.footer.sha256.hex(),
            "signer_key_id": self.signature.key_id if self.signature else None,
            **({"bitnet": self.metadata["bitnet"]} if "bitnet" in self.metadata else {}),
            **({"dual": {**self.metadata.get("dual", {}), "rule": self.router.describe()}}
               if self.router is not None else {}),
        }


def inspect_artifact(path: str | Path) -> ArtifactInfo:
    """Verify an artifact's footer and hash, and decode its plan."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact {path} does not exist")
    try:
        footer = read_footer(path)
        plan = read_plan(path, footer)
        signature = read_signature(path)
        dual = read_dual(path)
    except (ArtifactFormatError, SigningError) as e:
        raise ArtifactError(str(e)) from e
    return ArtifactInfo(path, path.stat().st_size, footer, plan, signature, dual[0] if dual else None)


def format_info(info: ArtifactInfo) -> str:
    d = info.to_dict()

    def tensors(items: list[dict[str, Any]]) -> str:
        return "\n".join(f"    {t['name']}: {t['dtype']}[{','.join(map(str, t['shape']))}]" for t in items)

    return "\n".join([
        f"artifact:     {d['path']}",
        f"target:       {d['target']}   (ABI v{d['abi_version']}, -O{d['opt_level']}, {d['producer']})",
        "inputs:", tensors(d["inputs"]), "outputs:", tensors(d["outputs"]),
        f"file bytes:   {d['file_bytes']}",
        f"code bytes:   {d['code_bytes']}   ({d['kernels']} kernels, {d['steps']} steps)",
        f"weight bytes: {d['weights_bytes']}   ({d['weight_tensors']} tensors)",
        f"plan bytes:   {d['plan_bytes']}",
        f"arena bytes:  {d['arena_bytes']}",
        f"sha256:       {d['sha256']}   (verified)",
        f"signed by:    key {d['signer_key_id']}   (Ed25519; checked at load against trusted keys)"
        if d["signer_key_id"] else "signed by:    nobody (unsigned; `ronn-aot sign` signs it)",
        *([_bitnet_line(d["bitnet"])] if "bitnet" in d else []),
        *(_dual_lines(d["dual"]) if "dual" in d else []),
    ])


def _dual_lines(d: dict[str, Any]) -> list[str]:
    """System 1 / System 2: the router, its calibration, and both plans' bytes."""
    c, s1, s2 = d.get("calibration", {}), d.get("system1", {}), d.get("system2", {})
    plain = d.get("plain_artifact_bytes", {})
    lines = [f"dual:         System 2 = the plan above (full precision); System 1 = "
             f"{s1.get('bitnet', {}).get('mode', '?')}",
             f"router:       {d.get('router')}: {d['rule']}"]
    if c:
        lines.append(f"calibrated:   on {c['inputs']} inputs ({d.get('calibrated_on')}): fast fraction "
                     f"{c['fast_fraction']:.3f}, agreement with System 2 {c['agreement']:.4f} (min "
                     f"{c['min_agreement']}; System 1 alone {c['system1_agreement']:.4f}); expected "
                     f"{c['expected_ms']:.4f} ms/run vs System 1 {c['system1_ms']:.4f}, System 2 "
                     f"{c['system2_ms']:.4f}")
        if d.get("costs"):
            lines.append(f"costs:        {d['costs']}")
    lines += [f"System 1:     {s1.get('kernels')} kernels, code {s1.get('code_bytes', '?')} B, plan "
              f"{s1.get('plan_bytes')} B, arena {s1.get('arena_bytes')} B, weights {s1.get('own_weight_bytes')} B "
              f"own + {s1.get('shared_weight_bytes')} B shared with System 2",
              f"System 2:     {s2.get('kernels')} kernels, code {s2.get('code_bytes', '?')} B, plan (above), arena "
              f"{s2.get('arena_bytes')} B, weights {s2.get('weight_bytes')} B"]
    if plain:
        lines.append(f"vs separate:  System 2 alone {plain['system2_artifact']} B + System 1 alone "
                     f"{plain['system1_artifact']} B = {plain['system2_artifact'] + plain['system1_artifact']} B")
    return lines


def _bitnet_line(b: dict[str, Any]) -> str:
    before, after = b["float_bytes"], b["packed_bytes"]
    ratio = f"{before / after:.1f}x smaller" if after else "none quantized"
    return (f"bitnet:       {b['mode']}; {len(b['quantized_layers'])} of {b['quantizable_layers']} layers; "
            f"their weights {before} -> {after} bytes ({ratio}); {b.get('kernel', 'popcount')} kernels")
