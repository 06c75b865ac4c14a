"""Runs inside the emulated aarch64 Python (bench/aarch64.py): onnxruntime's own aarch64 build
on one model, `runs` times, writing the outputs of the last run as .npy files.

    python3.11 ort_runner.py MODEL.onnx INPUT_DIR OUTPUT_DIR RUNS THREADS

Inputs are INPUT_DIR/<index>.npy in the graph's input order. Only numpy and onnxruntime are
imported: this file runs under qemu, where every import costs seconds."""

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main() -> None:
    model, in_dir, out_dir, runs, threads = sys.argv[1:6]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    feeds = {inp.name: np.load(Path(in_dir) / f"{i}.npy") for i, inp in enumerate(sess.get_inputs())}
    outputs = []
    for _ in range(int(runs)):
        outputs = sess.run(None, feeds)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for i, value in enumerate(outputs):
        np.save(Path(out_dir) / f"{i}.npy", value)


if __name__ == "__main__":
    main()
