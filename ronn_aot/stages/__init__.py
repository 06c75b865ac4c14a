"""The compiler's stages, in pipeline order: import (frontend, onnx_fold, onnx_functions,
freeze), lower, plan (plan_builder, placement, prepack), schedule, input alignment and pack.
`ronn_aot.pipeline` runs them as a list of named stages; nothing here imports a tool."""
