"""Whether a tracer or the compiler is recording the ops.

The CPU-specific paths of the layers (oneDNN's fused kernels, tensors kept between calls, GELU on
a token view) stand aside while the ops are recorded: FLOP counters, TorchScript, export and
``torch.compile`` see the plain PyTorch ops, which their graph compilers fuse in their own way.
"""
import torch


def traced_or_compiled() -> bool:
    """Whether a tracer (FLOP counting, TorchScript, export) or ``torch.compile`` is recording."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting()
