"""Whether a tracer or the compiler is recording the ops.

The eager-mode paths of the layers (oneDNN's fused kernels, tensors kept between calls, GELU on a
token view, the FFN's hidden map made a few samples at a time and the attention a chunk of windows
at a time for glibc's heap) stand aside while the ops are recorded: FLOP counters, TorchScript,
export and ``torch.compile`` see the plain PyTorch ops over the whole batch, which their graph
compilers fuse and plan buffers for in their own way.
"""
import torch


def traced_or_compiled() -> bool:
    """Whether a tracer (FLOP counting, TorchScript, export) or ``torch.compile`` is recording."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting()
