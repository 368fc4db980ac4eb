"""Convolution followed by a BatchNorm that normalises with its running statistics, as one
convolution.

``norm(conv(x)) = conv'(x)`` with ``w' = w * s``, ``b' = (b - mean) * s + beta`` and
``s = gamma / sqrt(var + eps)``: one pass over the map instead of two. The folded parameters are
computed from the modules (a few thousand numbers), so they follow any change of the weights, and
gradients flow to the original parameters; when no gradient is recorded they are kept between
calls until a source changes (:mod:`.inference_cache`).
"""
from typing import Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from .inference_cache import cached_at_inference


def uses_running_stats(norm: nn.Module) -> bool:
    """Whether ``norm`` is a BatchNorm that normalises with its running statistics (eval mode)."""
    return (isinstance(norm, _BatchNorm) and not norm.training
            and norm.running_mean is not None)


def folded_conv_params(conv: nn.Conv2d, norm: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of the convolution equal to ``norm(conv(x))``."""
    # PyTorch's batch-norm kernel updates the running averages without moving their version
    # counters; the module counts every such batch in `num_batches_tracked`, in place.
    sources = (conv.weight, conv.bias, norm.weight, norm.bias, norm.running_mean,
               norm.running_var, norm.num_batches_tracked, norm.eps)
    return cached_at_inference(norm, 'folded_conv_params', sources,
                               lambda: _fold(conv, norm))


def _fold(conv: nn.Conv2d, norm: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    scale = norm.running_var.add(norm.eps).rsqrt()
    if norm.weight is not None:
        scale = scale * norm.weight
    bias = -norm.running_mean if conv.bias is None else conv.bias - norm.running_mean
    bias = bias * scale
    if norm.bias is not None:
        bias = bias + norm.bias
    return conv.weight * scale.view(-1, 1, 1, 1), bias
