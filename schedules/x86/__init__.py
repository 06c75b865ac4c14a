"""x86-64 schedule rules (AVX2 and AVX-512 share them; vector width comes from the target)."""

from . import (conv2d_nchw, conv2d_nhwc, dense, depthwise_conv2d, elementwise, fallback, pooling,  # noqa: F401
               reduction, transpose, winograd_input, winograd_output)
