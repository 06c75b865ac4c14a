"""CPU schedule rules, written once over the target's ISA description (schedules/isa.py: vector
width, vector registers, caches, read from the target file's [isa] table): x86-64 (AVX2, AVX-512)
and AArch64 (NEON) run the same rules with their own widths and register counts."""

CPU_ARCHES = ("x86_64", "aarch64")  # target `arch` values (targets/*.toml) these rules are registered for

from . import (conv2d_nchw, conv2d_nhwc, conv2d_nhwc_shallow, dense, depthwise_conv2d, elementwise, fallback, int8_dot, pooling,  # noqa: E402,F401
               reduction, softmax, transpose, winograd_input, winograd_output)
