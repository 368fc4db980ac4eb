"""Gradient checkpointing that keeps the batch statistics of the BatchNorms it recomputes.

``torch.utils.checkpoint`` runs a function again in the backward pass. A BatchNorm in training
would reduce the batch a second time, update its running averages a second time and, as SyncBN,
synchronise with the other processes a second time. :func:`recompute` runs the BatchNorms of the
given modules (any ``_BatchNorm``: ``BN``, ``SyncBN``, mmengine's ``_BatchNormXd``) so that the
forward pass computes the batch statistics (with PyTorch's BatchNorm kernel; over all processes for
a synchronised ``SyncBN``, in one collective), updates the running averages and keeps the
statistics, and the recomputation normalises with the kept statistics. Both passes record the same
autograd op, whose backward pass is a training BatchNorm's (PyTorch's kernel; for a synchronised
``SyncBN`` its two per-channel sums are all-reduced, one collective, as ``nn.SyncBatchNorm``
does). Outputs
and gradients equal those of the modules run plainly, up to rounding; other modules run as they
are, under the autocast state and, on request, the random state of the forward pass.
"""
from contextlib import contextmanager
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

#: Per-channel batch mean and (biased) variance, and how many values each channel had.
Statistics = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def uses_batch_statistics(norm: _BatchNorm) -> bool:
    """Whether ``norm`` normalises with the statistics of the batch, as it does in training."""
    return norm.training or norm.running_mean is None


def sync_group(norm: _BatchNorm) -> Optional[dist.ProcessGroup]:
    """The process group over which ``norm`` averages its statistics now, or None (no group of
    more than one process), by ``nn.SyncBatchNorm``'s rule. Besides ``nn.SyncBatchNorm``, a
    BatchNorm that synchronises in its own way says so with ``synchronises_statistics = True``
    (e.g. a CPU stand-in for SyncBN, which torch's DDP refuses on CPUs); its group is its
    ``process_group`` if it has one, else the default group."""
    synchronised = (isinstance(norm, nn.SyncBatchNorm)
                    or getattr(norm, 'synchronises_statistics', False))
    if not (synchronised and dist.is_available() and dist.is_initialized()):
        return None
    group = getattr(norm, 'process_group', None) or dist.group.WORLD
    return group if dist.get_world_size(group) > 1 else None


def batch_statistics(x: torch.Tensor, group: dist.ProcessGroup) -> Statistics:
    """Mean, biased variance and count per channel of ``x`` (``B x C x ...``) over the processes of
    ``group`` (one ``all_gather``), in float32 or float64."""
    dims = [0, *range(2, x.dim())]
    var, mean = torch.var_mean(x if x.dtype == torch.float64 else x.float(), dims, correction=0)
    local = torch.stack([mean, var, torch.full_like(mean, x.numel() // x.shape[1])])
    gathered = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
    dist.all_gather(gathered, local, group=group)
    means, variances, counts = torch.stack(gathered).unbind(1)  # each processes x C
    total = counts.sum(0)
    mean = (means * counts).sum(0) / total
    var = ((variances + (means - mean).square()) * counts).sum(0) / total
    return mean, var, total


def _update_factor(norm: _BatchNorm) -> float:
    """Counts a training batch of ``norm`` and returns the weight of its statistics in the running
    averages, as ``_BatchNorm.forward`` does (0 where it keeps no running averages)."""
    if not (norm.training and norm.track_running_stats and norm.running_mean is not None):
        return 0.
    norm.num_batches_tracked.add_(1)
    return 1. / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum


def _normalise_with_batch_statistics(norm: _BatchNorm, x: torch.Tensor,
                                     group: Optional[dist.ProcessGroup]) -> tuple:
    """``norm``'s training forward pass on ``x``: the output and the batch statistics it used
    (mean, variance, inverse standard deviation, count, and the eps that normalising by that
    variance takes; the count None for one process), its running averages updated. One kernel
    for one process, as the plain BatchNorm."""
    factor = _update_factor(norm)
    running = (norm.running_mean, norm.running_var) if factor else (None, None)
    if group is None:
        if x.numel() == x.shape[1]:
            raise ValueError('Expected more than 1 value per channel when training, got input '
                             f'size {list(x.shape)}')
        out, mean, invstd = torch.native_batch_norm(x, norm.weight, norm.bias, *running, True,
                                                    factor, norm.eps)
        # Normalising by the variance invstd^-2 without eps is normalising by invstd: one op.
        return out, mean, invstd.pow(-2), invstd, None, 0.
    mean, var, count = batch_statistics(x, group)
    if factor:
        norm.running_mean.lerp_(mean.to(norm.running_mean.dtype), factor)
        unbiased = var * count / (count - 1)
        norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), factor)
    out = torch.native_batch_norm(x, norm.weight, norm.bias, mean, var, False, 0., norm.eps)[0]
    return out, mean, var, torch.rsqrt(var + norm.eps), count, norm.eps


class BatchNormKeptStatistics(torch.autograd.Function):
    """A training-mode BatchNorm of ``x`` (``B x C x ...``) whose batch statistics are computed
    once and reused: with ``statistics`` empty, ``norm``'s forward pass (which fills it); with it
    filled, the same output from the kept statistics. The backward pass is a training BatchNorm's:
    its gradients account for the statistics' dependence on ``x`` (over all processes of
    ``group`` when one is given)."""

    @staticmethod
    def forward(ctx, x, weight, bias, norm: _BatchNorm, statistics: list,
                group: Optional[dist.ProcessGroup]):
        if statistics:
            mean, var, invstd, count, eps = statistics
            out = torch.native_batch_norm(x, weight, bias, mean, var, False, 0., eps)[0]
        else:
            out, *kept = _normalise_with_batch_statistics(norm, x, group)
            statistics.extend(kept)
            mean, _, invstd, count, _ = kept
        ctx.save_for_backward(x, weight, mean, invstd, count)
        ctx.eps, ctx.group = norm.eps, group
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, invstd, count = ctx.saved_tensors
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        synced = ctx.group is not None
        mask = [needs_x and not synced, needs_weight or synced, needs_bias or synced]
        grad_x, sum_grad_xhat, sum_grad = torch.ops.aten.native_batch_norm_backward(
            grad, x, weight, None, None, mean, invstd, True, ctx.eps, mask)
        if synced and needs_x:
            grad_x = _synchronised_input_grad(grad, x, weight, mean, invstd, count,
                                              torch.stack([sum_grad, sum_grad_xhat]), ctx.group)
        return (grad_x, sum_grad_xhat if needs_weight else None, sum_grad if needs_bias else None,
                None, None, None)


def _synchronised_input_grad(grad: torch.Tensor, x: torch.Tensor, weight: Optional[torch.Tensor],
                             mean: torch.Tensor, invstd: torch.Tensor, count: torch.Tensor,
                             sums: torch.Tensor, group: dist.ProcessGroup) -> torch.Tensor:
    """The input gradient of a BatchNorm whose statistics span ``group``:
    ``k * (grad - sum(grad) / N - xhat * sum(grad * xhat) / N)``, ``k = weight * invstd``, the
    two sums (``sums``, ``2 x C``) all-reduced over the group first."""
    dist.all_reduce(sums, group=group)
    mean_grad, mean_grad_xhat = sums / count

    def per_channel(t):
        return t.view(1, -1, *([1] * (x.dim() - 2)))

    scale = invstd if weight is None else invstd * weight
    centred = (x - per_channel(mean)) * per_channel(-scale * invstd * mean_grad_xhat)
    return (grad * per_channel(scale) + centred - per_channel(scale * mean_grad)).to(x.dtype)


class KeptStatistics:
    """The batch statistics of some BatchNorms, computed in one pass and reused in the next.

    :meth:`contexts` gives the two contexts of ``torch.utils.checkpoint``'s ``context_fn``: in
    the first the norms compute and keep their statistics, in the second (the recomputation)
    they reuse them, call by call.
    """

    def __init__(self, norms: Sequence[_BatchNorm]):
        self.norms = list(norms)
        self.kept: Dict[int, List[list]] = {id(norm): [] for norm in self.norms}

    def contexts(self):
        return self._normalising(reuse=False), self._normalising(reuse=True)

    @contextmanager
    def _normalising(self, reuse: bool) -> Iterator[None]:
        calls = {key: 0 for key in self.kept}
        previous = [norm.__dict__.get('forward') for norm in self.norms]
        for norm in self.norms:
            norm.forward = partial(self._forward, norm, reuse, calls)
        try:
            yield
        finally:
            for norm, forward in zip(self.norms, previous):
                del norm.forward
                if forward is not None:
                    norm.forward = forward

    def _forward(self, norm: _BatchNorm, reuse: bool, calls: Dict[int, int],
                 x: torch.Tensor) -> torch.Tensor:
        if not uses_batch_statistics(norm):
            return type(norm).forward(norm, x)
        kept = self.kept[id(norm)]
        if reuse:
            statistics = kept[calls[id(norm)]]
            calls[id(norm)] += 1
        else:
            statistics = []
            kept.append(statistics)
        return BatchNormKeptStatistics.apply(x, norm.weight, norm.bias, norm, statistics,
                                             sync_group(norm))


def recompute(function: Callable[..., torch.Tensor], *inputs: torch.Tensor,
              modules: Sequence[nn.Module] = (), preserve_rng_state: bool = True) -> torch.Tensor:
    """``function(*inputs)``, keeping only ``inputs`` for the backward pass, which runs
    ``function`` again (non-reentrant ``torch.utils.checkpoint``); the BatchNorms among
    ``modules`` and their submodules keep their batch statistics for that (see module doc).
    ``preserve_rng_state``: replay the random state (needed where ``function`` draws numbers)."""
    norms = [m for module in modules for m in module.modules() if isinstance(m, _BatchNorm)]
    return checkpoint(function, *inputs, use_reentrant=False,
                      preserve_rng_state=preserve_rng_state,
                      context_fn=KeptStatistics(norms).contexts)
