"""BatchNorm inside a recomputed chain: run with the batch's statistics, replayed with the same.

In training a BatchNorm first reduces its input to the batch's mean and variance per channel, then
normalises; on the CPU the reduction takes about three quarters of the time (a channels-last
``8 x 78 x 64 x 48`` map: 1.3 ms against 0.3 ms for the normalisation alone, measured). The
forward pass of a chain (:mod:`.recomputed_chain`) keeps those statistics (two numbers per
channel), so the replay in the backward pass only normalises, and its backward pass uses the
statistics as PyTorch's own BatchNorm backward does: the gradients account for the batch
statistics' dependence on the input. The replayed output equals the forward pass's up to rounding
(the normalisation is computed as one multiply-add per element).
"""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class BatchStatistics(NamedTuple):
    """A training-mode BatchNorm's batch mean and inverse standard deviation, ``C`` each."""
    mean: torch.Tensor
    invstd: torch.Tensor


def running_average_factor(norm: nn.BatchNorm2d) -> float:
    """Counts this batch in ``norm``'s statistics as its forward pass does, and returns the factor
    of the running averages' update (as ``nn.BatchNorm2d.forward`` computes it)."""
    if not (norm.training and norm.track_running_stats):
        return 0.
    if norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if norm.momentum is None:
            return 1. / float(norm.num_batches_tracked)
    return norm.momentum


def batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, weight: Optional[torch.Tensor],
               bias: Optional[torch.Tensor], channels: slice = slice(None),
               update_factor: float = 0.) -> Tuple[torch.Tensor, Optional[BatchStatistics]]:
    """``norm`` on its channels ``channels`` (``x``: ``B x len(channels) x H x W``; ``weight`` and
    ``bias`` already cut to them), with the batch's statistics in training, the running ones
    otherwise; the running averages are updated by ``update_factor``
    (:func:`running_average_factor`).

    Returns:
        The output, and the batch's statistics (None when the running ones were used).
    """
    if not (norm.training or norm.running_mean is None):
        out = F.batch_norm(x, norm.running_mean[channels], norm.running_var[channels], weight,
                           bias, False, 0., norm.eps)
        return out, None
    if x.numel() == x.shape[1]:
        raise ValueError('Expected more than 1 value per channel when training, got input size '
                         f'{list(x.shape)}')
    running = (None, None) if norm.running_mean is None else (norm.running_mean[channels],
                                                              norm.running_var[channels])
    out, mean, invstd = torch.native_batch_norm(x, weight, bias, *running, True, update_factor,
                                                norm.eps)
    return out, BatchStatistics(mean, invstd)


class _NormaliseWithStatistics(torch.autograd.Function):
    """Training-mode BatchNorm with given batch statistics: ``B x C x H x W`` -> same."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd, eps):
        ctx.eps = eps
        ctx.save_for_backward(x, weight, mean, invstd)
        scale = invstd if weight is None else invstd * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        out = torch.addcmul(shift.view(1, -1, 1, 1), x, scale.view(1, -1, 1, 1))
        return out.to(x.dtype)  # under autocast, a bf16 map normalised in float32, as BN does

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, invstd = ctx.saved_tensors
        mask = [ctx.needs_input_grad[0], weight is not None and ctx.needs_input_grad[1],
                ctx.needs_input_grad[2]]
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad_out, x, weight, None, None, mean, invstd, True, ctx.eps, mask)
        return grad_x, grad_weight, grad_bias, None, None, None


def replay_batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, weight: Optional[torch.Tensor],
                      bias: Optional[torch.Tensor], statistics: Optional[BatchStatistics],
                      channels: slice = slice(None)) -> torch.Tensor:
    """:func:`batch_norm` again in a replay, without updating the running averages: with the
    forward pass's ``statistics``, or the running ones where it used those (``statistics`` None).
    """
    if statistics is None:
        return batch_norm(norm, x, weight, bias, channels)[0]
    return _NormaliseWithStatistics.apply(x, weight, bias, *statistics, norm.eps)
