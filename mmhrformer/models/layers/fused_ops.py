"""A convolution and the activation after it (and a residual sum before that) as one oneDNN
primitive, and a linear layer that adds its bias as it writes its output, for inference on the CPU.

``act(conv(x))`` as two PyTorch ops writes the convolution's output to memory and reads it back
for the activation; oneDNN applies the activation (after adding a residual) while it writes the
output ("post-ops"), the fusion PyTorch's own compiler (inductor) makes on the CPU. Likewise
PyTorch's CPU ``F.linear`` fills its output with the bias before adding the product to it, one more
pass over the output, where oneDNN's product adds the bias as it writes. The fused kernels have no
backward pass: they are used only when no gradient is needed, on float32 CPU tensors outside
autocast, tracing and ``torch.compile``, for the activations oneDNN computes as PyTorch does
(ReLU, erf or tanh GELU). Anything else runs the plain ops.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .channels_last_gelu import ChannelsLastGELU
from .tracing import traced_or_compiled


def _onednn_op(name: str):
    """PyTorch's oneDNN op ``name``, or None in a build without it."""
    return (getattr(torch.ops.mkldnn, name, None) if torch.backends.mkldnn.is_available()
            else None)


_POINTWISE = _onednn_op('_convolution_pointwise')
#: oneDNN's convolution with an activation post-op, and with a sum then an activation.
_FUSED_CONV = None if _POINTWISE is None else _POINTWISE.default
_FUSED_CONV_ADD = None if _POINTWISE is None else _POINTWISE.binary
#: oneDNN's matrix product with the bias added to its output as it is written.
_FUSED_LINEAR = _onednn_op('_linear_pointwise')


def onednn_activation(act: nn.Module) -> Optional[Tuple[str, Optional[str]]]:
    """The ``(attr, algorithm)`` naming ``act`` for oneDNN's fused convolution, or None."""
    if type(act) is nn.ReLU:
        return 'relu', None
    if type(act) in (nn.GELU, ChannelsLastGELU):
        return 'gelu', act.approximate  # 'none' (erf) or 'tanh', PyTorch's names
    return None


def _fusable(*tensors: Optional[torch.Tensor]) -> bool:
    """Whether a fused kernel may run on ``tensors`` (see module doc)."""
    if traced_or_compiled():
        return False
    present = [t for t in tensors if t is not None]
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in present)
    return (all(t.device.type == 'cpu' and t.dtype == torch.float32 for t in present)
            and not needs_grad and not torch.is_autocast_enabled('cpu'))


def _can_fuse(conv: nn.Conv2d, act: nn.Module, *tensors: Optional[torch.Tensor]) -> bool:
    """Whether the fused kernel computes ``act`` after ``conv`` on ``tensors`` (input, weight,
    bias, residual) as the plain ops would."""
    plain_padding = conv.padding_mode == 'zeros' and not isinstance(conv.padding, str)
    return (_FUSED_CONV is not None and onednn_activation(act) is not None and plain_padding
            and _fusable(*tensors))


def linear(x: torch.Tensor, weight: torch.Tensor,
           bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``F.linear(x, weight, bias)``: ``... x C_in`` -> ``... x C_out``, the bias added by the
    product's kernel where oneDNN can (see module doc)."""
    if _FUSED_LINEAR is None or bias is None or not _fusable(x, weight, bias):
        return F.linear(x, weight, bias)
    return _FUSED_LINEAR(x, weight, bias, 'none', [], '')


def conv2d_like(conv: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor], groups: Optional[int] = None) -> torch.Tensor:
    """``F.conv2d`` of ``x`` with the given parameters and ``conv``'s stride, padding and
    dilation (and its groups unless ``groups`` is given)."""
    return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation,
                    conv.groups if groups is None else groups)


def _conv_args(conv: nn.Conv2d) -> tuple:
    return list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups


def conv2d_activation(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                      conv: nn.Conv2d, act: nn.Module) -> torch.Tensor:
    """``act(F.conv2d(x, weight, bias))`` with ``conv``'s stride, padding, dilation and groups:
    ``B x C_in x H x W`` -> ``B x C_out x H' x W'``, fused where oneDNN can (see module doc)."""
    if not _can_fuse(conv, act, x, weight, bias):
        return act(conv2d_like(conv, x, weight, bias))
    return _FUSED_CONV(x, weight, bias, *_conv_args(conv), *_activation_args(act))


def conv2d_add_activation(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor,
                          bias: Optional[torch.Tensor], conv: nn.Conv2d,
                          act: nn.Module) -> torch.Tensor:
    """``act(F.conv2d(x, weight, bias) + residual)`` (``residual``: the convolution's output
    shape), fused where oneDNN can (see module doc; after a sum, its kernel takes only ReLU)."""
    if type(act) is not nn.ReLU or not _can_fuse(conv, act, x, weight, bias, residual):
        return act(conv2d_like(conv, x, weight, bias) + residual)
    return _FUSED_CONV_ADD(x, residual, weight, bias, *_conv_args(conv), 'add', None,
                           *_activation_args(act))


def _activation_args(act: nn.Module) -> tuple:
    attr, algorithm = onednn_activation(act)
    return attr, [None], algorithm
