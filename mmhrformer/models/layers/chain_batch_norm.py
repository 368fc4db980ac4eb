"""BatchNorm inside a recomputed chain: run with the batch's statistics, replayed with the same.

In training a BatchNorm first reduces its input to the batch's mean and variance per channel, then
normalises; on the CPU the reduction takes about three quarters of the time (a channels-last
``8 x 78 x 64 x 48`` map: 1.3 ms against 0.3 ms for the normalisation alone, measured). The
forward pass of a chain (:mod:`.recomputed_chain`) keeps those statistics, so the replay in the
backward pass only normalises, and its backward pass uses the statistics as PyTorch's own
BatchNorm backward does: the gradients account for the batch statistics' dependence on the input
(on channels-last maps of some channel counts computed over folded rows, see
:mod:`.channels_last_batch_norm`). The replayed output equals the forward pass's up to rounding
(one multiply-add per element).

Where the statistics are kept matters for memory: two small tensors per BatchNorm made at every
step and kept until its backward pass sit between the large maps in glibc's heap and keep the holes
those leave from merging (HRFormer-B's training peak RSS rose by 100-300 MB so, measured). So each
BatchNorm keeps them in one store of its own (``2 x C``), made at its first step; a generation count
tells a replay whether the store still holds its forward pass's statistics (a second forward pass
of the same module before the backward pass overwrites them), else the replay reduces the batch
again.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .channels_last_batch_norm import batch_norm_backward


def generation(norm: nn.BatchNorm2d) -> int:
    """How many forward passes of ``norm`` :func:`begin_batch` has counted: the statistics in its
    store are those of that forward pass."""
    return getattr(norm, '_chain_generation', 0)


def _uses_running_statistics(norm: nn.BatchNorm2d) -> bool:
    return not (norm.training or norm.running_mean is None)


def begin_batch(norm: nn.BatchNorm2d) -> float:
    """Counts a forward pass of ``norm`` (once for all its channel groups) and returns the factor
    of the running averages' update, as ``nn.BatchNorm2d.forward`` counts and computes it."""
    norm._chain_generation = generation(norm) + 1
    if not (norm.training and norm.track_running_stats):
        return 0.
    if norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if norm.momentum is None:
            return 1. / float(norm.num_batches_tracked)
    return norm.momentum


def _store(norm: nn.BatchNorm2d, like: torch.Tensor) -> torch.Tensor:
    """``norm``'s store for the mean and inverse standard deviation of its channels, ``2 x C``,
    made (again) when it does not exist yet or differs from ``like`` in device or dtype."""
    store = getattr(norm, '_chain_statistics', None)
    if store is None or store.device != like.device or store.dtype != like.dtype:
        store = like.new_empty((2, norm.num_features))
        norm._chain_statistics = store
    return store


def batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, weight: Optional[torch.Tensor],
               bias: Optional[torch.Tensor], channels: slice = slice(None),
               update_factor: float = 0.) -> torch.Tensor:
    """``norm`` on its channels ``channels`` (``x``: ``B x len(channels) x H x W``; ``weight`` and
    ``bias`` already cut to them), with the batch's statistics in training, the running ones
    otherwise; the running averages are updated by ``update_factor`` (:func:`begin_batch`), the
    batch's statistics written to ``norm``'s store."""
    if _uses_running_statistics(norm):
        return F.batch_norm(x, norm.running_mean[channels], norm.running_var[channels], weight,
                            bias, False, 0., norm.eps)
    if x.numel() == x.shape[1]:
        raise ValueError('Expected more than 1 value per channel when training, got input size '
                         f'{list(x.shape)}')
    running = (None, None) if norm.running_mean is None else (norm.running_mean[channels],
                                                              norm.running_var[channels])
    out, mean, invstd = torch.native_batch_norm(x, weight, bias, *running, True, update_factor,
                                                norm.eps)
    store = _store(norm, mean)
    store[0, channels], store[1, channels] = mean.detach(), invstd.detach()
    return out


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
        grad_x, grad_weight, grad_bias = batch_norm_backward(grad_out, x, weight, mean, invstd,
                                                             ctx.eps, mask)
        return grad_x, grad_weight, grad_bias, None, None, None


def replay_batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, weight: Optional[torch.Tensor],
                      bias: Optional[torch.Tensor], forward_generation: int,
                      channels: slice = slice(None)) -> torch.Tensor:
    """:func:`batch_norm` again in a replay, without updating the running averages: with the
    running statistics where they are used, else with the batch statistics in ``norm``'s store
    while it holds those of the forward pass (its :func:`generation` then was
    ``forward_generation``), else with the batch reduced again."""
    if _uses_running_statistics(norm):
        return batch_norm(norm, x, weight, bias, channels)
    if generation(norm) != forward_generation:
        return F.batch_norm(x, None, None, weight, bias, True, 0., norm.eps)
    mean, invstd = norm._chain_statistics[:, channels]
    return _NormaliseWithStatistics.apply(x, weight, bias, mean, invstd, norm.eps)
