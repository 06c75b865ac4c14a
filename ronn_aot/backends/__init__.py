"""Code generation backends: `llvm_cpu` (x86-64 and aarch64 kernels through LLVM, with our TIR
pipeline in `tir_pipeline`) and `cuda` (device kernels as PTX/cubin beside the host ones)."""
