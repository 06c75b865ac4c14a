"""Random inputs for compiled artifacts through the Python binding: right shapes with extreme
values (NaN, infinities, the integer extremes: a gathered index far out of range), wrong shapes,
wrong dtypes, missing and unknown names, non-contiguous and misaligned arrays. The only acceptable
outcomes are outputs or a RonnRuntimeError. As a child process of `bench.fuzz inputs`:

    python -m bench.fuzz.inputs SEED ARTIFACT... -- INDEX...

prints `INDEX<TAB>OK`, `INDEX<TAB>RonnRuntimeError:<code>` or `INDEX<TAB>BAD:<type>: <message>`."""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np

FLOATS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e38, -1e38, 1e-45, 1.0, -1.0]
INTS = [0, -1, 1, 2**31 - 1, -2**31, 2**62, -2**62, 10**12, 7]
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"]


def _values(shape: tuple[int, ...], dtype: np.dtype[Any], rng: random.Random) -> np.ndarray:
    gen = np.random.default_rng(rng.getrandbits(32))
    if dtype.kind == "f":
        array = gen.standard_normal(shape).astype(dtype)
        specials = np.array([rng.choice(FLOATS) for _ in range(8)], dtype=np.float64).astype(dtype)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        array = gen.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
        specials = np.array([np.clip(rng.choice(INTS), info.min, info.max) for _ in range(8)]).astype(dtype)
    else:
        return gen.integers(0, 2, size=shape).astype(dtype)
    if array.size and rng.random() < 0.7:
        flat = array.reshape(-1)
        flat[gen.integers(0, flat.size, size=min(8, flat.size))] = specials[: min(8, flat.size)]
    return array


def feed(session: Any, rng: random.Random) -> tuple[dict[str, Any], str]:
    """One input feed for `session` and a word for what kind it is."""
    args = session.get_inputs()
    feeds: dict[str, Any] = {a.name: _values(tuple(a.shape), a.dtype, rng) for a in args}
    kind = rng.choices(["values", "shape", "dtype", "names", "layout", "python"], weights=[5, 2, 2, 1, 2, 1])[0]
    name = rng.choice(list(feeds))
    x = feeds[name]
    if kind == "shape":
        shape = list(x.shape)
        choice = rng.randrange(3)
        if choice == 0 and shape:
            i = rng.randrange(len(shape))
            shape[i] = rng.choice([0, 1, shape[i] + 1, shape[i] * 2, max(shape[i] - 1, 0)])
        elif choice == 1 and shape:
            shape.pop()
        else:
            shape.append(1)
        feeds[name] = np.zeros(shape, x.dtype)
    elif kind == "dtype":
        feeds[name] = x.astype(rng.choice(DTYPES))
    elif kind == "names":
        if rng.random() < 0.5:
            del feeds[name]
        else:
            feeds[name + "_unknown"] = x
    elif kind == "layout":
        if x.ndim >= 2 and rng.random() < 0.5:
            feeds[name] = np.asfortranarray(x)
        else:  # a view 1-63 bytes past a 64-byte boundary: unaligned for its dtype when odd
            raw = np.zeros(x.nbytes + 128, np.uint8)
            start = -raw.ctypes.data % 64 + rng.randrange(1, 64)
            view = raw[start:start + x.nbytes].view(x.dtype).reshape(x.shape)
            view[...] = x
            feeds[name] = view
    elif kind == "python":
        feeds[name] = x.tolist() if rng.random() < 0.5 else "not an array"
    return feeds, kind


def main(argv: list[str]) -> int:
    import ronn_runtime

    split = argv.index("--")
    seed, artifacts, indices = int(argv[0]), argv[1:split], [int(i) for i in argv[split + 1:]]
    sessions = [ronn_runtime.InferenceSession(path, 2) for path in artifacts]
    for index in indices:
        rng = random.Random(seed * 1_000_003 + index)
        session = rng.choice(sessions)
        feeds, kind = feed(session, rng)
        try:
            outputs = session.run(None, feeds)
            result = "OK" if all(isinstance(o, np.ndarray) for o in outputs) else "BAD:not arrays"
        except ronn_runtime.RonnRuntimeError as e:
            result = f"RonnRuntimeError:{e.code}"
        except Exception as e:  # noqa: BLE001 - what the fuzzer looks for
            result = f"BAD:{type(e).__name__} ({kind}): {' '.join(str(e).split())[:300]}"
        print(f"{index}\t{result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
