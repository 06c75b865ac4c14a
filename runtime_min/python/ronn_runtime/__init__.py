"""ronn_runtime: run ronn-aot artifacts from Python through runtime_min's C library.

    import numpy as np, ronn_runtime
    sess = ronn_runtime.InferenceSession("model.so", num_threads=4)
    (y,) = sess.run(None, {sess.get_inputs()[0].name: np.zeros((1, 3, 224, 224), np.float32)})

Depends only on ctypes and NumPy: it never imports TVM or the compiler, so it runs on devices
that only have libronn_runtime.so.
"""

from __future__ import annotations

from ._capi import library_path
from ._errors import RonnRuntimeError
from ._session import InferenceSession, NodeArg, aligned

__all__ = ["InferenceSession", "NodeArg", "RonnRuntimeError", "aligned", "library_path"]
