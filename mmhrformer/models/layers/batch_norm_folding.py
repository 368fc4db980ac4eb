"""Convolution followed by a BatchNorm that normalises with its running statistics, as one
convolution.

``norm(conv(x)) = conv'(x)`` with ``w' = w * s``, ``b' = (b - mean) * s + beta`` and
``s = gamma / sqrt(var + eps)``: one pass over the map instead of two. The folded parameters are
computed from the modules at each call (a few thousand numbers), so they follow any change of the
weights, and gradients flow to the original parameters.
"""
from typing import Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def uses_running_stats(norm: nn.Module) -> bool:
    """Whether ``norm`` is a BatchNorm that normalises with its running statistics (eval mode)."""
    return (isinstance(norm, _BatchNorm) and not norm.training
            and norm.running_mean is not None)


def folded_conv_params(conv: nn.Conv2d, norm: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of the convolution equal to ``norm(conv(x))``."""
    scale = norm.running_var.add(norm.eps).rsqrt()
    if norm.weight is not None:
        scale = scale * norm.weight
    bias = -norm.running_mean if conv.bias is None else conv.bias - norm.running_mean
    bias = bias * scale
    if norm.bias is not None:
        bias = bias + norm.bias
    return conv.weight * scale.view(-1, 1, 1, 1), bias

