"""CUDA schedule rules: TVM's GPU dlight rules, in dlight's own order, tried first-match on every
kernel of a CUDA target. A kernel none of them binds to GPU threads runs on the host instead
(`ronn_aot/stages/schedule.py` decides; `--report` says which)."""

from . import dlight_rules  # noqa: F401
