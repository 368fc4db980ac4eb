"""A convolution and the activation after it as one oneDNN primitive, for inference on the CPU.

``act(conv(x))`` as two PyTorch ops writes the convolution's output to memory and reads it back
for the activation; oneDNN applies the activation while it writes the output ("post-op"), the
fusion PyTorch's own compiler (inductor) makes on the CPU. The fused kernel has no backward pass:
it is used only when no gradient is needed, on float32 CPU tensors outside autocast, tracing and
``torch.compile``, for the activations oneDNN computes as PyTorch does (ReLU, erf or tanh GELU).
Anything else runs the two ops.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

_FUSED_CONV = (getattr(torch.ops.mkldnn, '_convolution_pointwise', None)
               if torch.backends.mkldnn.is_available() else None)


def onednn_activation(act: nn.Module) -> Optional[Tuple[str, Optional[str]]]:
    """The ``(attr, algorithm)`` naming ``act`` for oneDNN's fused convolution, or None."""
    if type(act) is nn.ReLU:
        return 'relu', None
    if type(act) is nn.GELU:
        return 'gelu', act.approximate  # 'none' (erf) or 'tanh', PyTorch's names
    return None


def _can_fuse(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> bool:
    # Tracers (FLOP counting, export) and torch.compile (which makes this fusion itself) see
    # the plain ops.
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, bias))
    return (_FUSED_CONV is not None and x.device.type == 'cpu'
            and x.dtype == weight.dtype == torch.float32 and not needs_grad
            and not torch.is_autocast_enabled('cpu'))


def conv2d_activation(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                      conv: nn.Conv2d, act: nn.Module) -> torch.Tensor:
    """``act(F.conv2d(x, weight, bias))`` with ``conv``'s stride, padding, dilation and groups:
    ``B x C_in x H x W`` -> ``B x C_out x H' x W'``, fused where oneDNN can (see module doc)."""
    names = onednn_activation(act)
    plain_padding = conv.padding_mode == 'zeros' and not isinstance(conv.padding, str)
    if names is None or not plain_padding or not _can_fuse(x, weight, bias):
        return act(F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation,
                            conv.groups))
    attr, algorithm = names
    return _FUSED_CONV(x, weight, bias, list(conv.padding), list(conv.stride),
                       list(conv.dilation), conv.groups, attr, [None], algorithm)
