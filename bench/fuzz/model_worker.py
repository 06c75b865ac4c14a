"""Child process of `bench.fuzz models`: compiles the cases it is given, one result line each:
`INDEX<TAB>OK`, `INDEX<TAB>RonnError:<class>: <message>` or `INDEX<TAB>BAD:<type> at <file:line>:
<message>` (an exception the compiler must not let out)."""

from __future__ import annotations

import resource
import sys
import tempfile
import traceback
from pathlib import Path

# A mutated dimension can ask for terabytes: cap the address space so that such a request fails
# in this child (it must be refused before allocating) instead of swapping the machine.
ADDRESS_SPACE = 12 << 30


def main(argv: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    import ronn_aot
    from ronn_aot.errors import RonnError
    from ronn_aot.options import CompileOptions

    from .models import case, seeds

    seed = int(argv[0])
    seed_models = seeds()
    with tempfile.TemporaryDirectory(prefix="ronn-fuzz-") as tmp:
        model_path, out_path = Path(tmp) / "model.onnx", Path(tmp) / "model.so"
        options = CompileOptions().with_output(out_path)
        for index in map(int, argv[1:]):
            model_path.write_bytes(case(seed, index, seed_models).data)
            try:
                ronn_aot.compile(model_path, options)
                result = "OK"
            except RonnError as e:
                result = f"RonnError:{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001 - exactly what the fuzzer looks for
                frames = traceback.extract_tb(e.__traceback__)
                ours = [f for f in frames if "ronn_aot" in f.filename] or frames
                where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"
                if ours[-1] is not frames[-1]:
                    where += f" via {Path(ours[-1].filename).name}:{ours[-1].lineno}"
                result = f"BAD:{type(e).__name__} at {where}: {e}"
            print(f"{index}\t{' '.join(result.split())[:500]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
