"""Gradient checkpointing that keeps the batch statistics of the BatchNorms it recomputes.

``torch.utils.checkpoint`` runs a function again in the backward pass. A BatchNorm in training
would reduce the batch a second time, update its running averages a second time and, as SyncBN,
synchronise with the other processes a second time. :func:`recompute` runs the BatchNorms of the
given modules (any ``_BatchNorm``: ``BN``, ``SyncBN``, mmengine's ``_BatchNormXd``) so that the
forward pass computes the batch statistics (over all processes for a synchronised ``SyncBN``, in
one collective), updates the running averages and keeps the statistics, and the recomputation
normalises with the kept statistics. Both passes record the same autograd op, a training-mode
BatchNorm with given statistics, whose backward pass is PyTorch's (for a synchronised ``SyncBN``
its two per-channel sums are all-reduced, one collective, as ``nn.SyncBatchNorm`` does). Outputs
and gradients equal those of the modules run plainly, up to rounding; other modules run as they
are, under the autocast state and, on request, the random state of the forward pass.
"""
from contextlib import contextmanager
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

#: Per-channel batch mean and (biased) variance, and how many values each channel had.
Statistics = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def uses_batch_statistics(norm: _BatchNorm) -> bool:
    """Whether ``norm`` normalises with the statistics of the batch, as it does in training."""
    return norm.training or norm.running_mean is None


def sync_group(norm: _BatchNorm) -> Optional[dist.ProcessGroup]:
    """The process group over which a ``SyncBatchNorm`` averages its statistics now, or None
    (another norm, or no group of more than one process), by ``nn.SyncBatchNorm``'s rule."""
    if not (isinstance(norm, nn.SyncBatchNorm) and dist.is_available() and dist.is_initialized()):
        return None
    group = norm.process_group or dist.group.WORLD
    return group if dist.get_world_size(group) > 1 else None


def batch_statistics(x: torch.Tensor, group: Optional[dist.ProcessGroup]) -> Statistics:
    """Mean, biased variance and count per channel of ``x`` (``B x C x ...``), in float32 or
    float64, over the processes of ``group`` when one is given (one ``all_gather``)."""
    dims = [0, *range(2, x.dim())]
    var, mean = torch.var_mean(x if x.dtype == torch.float64 else x.float(), dims, correction=0)
    count = torch.full_like(mean, x.numel() // x.shape[1])
    if group is None:
        return mean, var, count
    local = torch.stack([mean, var, count])
    gathered = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
    dist.all_gather(gathered, local, group=group)
    means, variances, counts = torch.stack(gathered).unbind(1)  # each processes x C
    total = counts.sum(0)
    mean = (means * counts).sum(0) / total
    var = ((variances + (means - mean).square()) * counts).sum(0) / total
    return mean, var, total


def update_running_statistics(norm: _BatchNorm, statistics: Statistics) -> None:
    """Moves ``norm``'s running averages towards the batch statistics as ``_BatchNorm`` does
    (momentum, or a cumulative average when ``momentum`` is None; unbiased variance)."""
    if not (norm.training and norm.track_running_stats and norm.running_mean is not None):
        return
    mean, var, count = statistics
    norm.num_batches_tracked.add_(1)
    factor = (1. / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum)
    norm.running_mean.lerp_(mean.to(norm.running_mean.dtype), factor)
    unbiased = var * count / (count - 1)
    norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), factor)


class NormaliseWithStatistics(torch.autograd.Function):
    """A training-mode BatchNorm of ``x`` (``B x C x ...``) with given batch statistics: the
    output of ``F.batch_norm`` and its gradients, which account for the statistics' dependence
    on ``x`` (over all processes of ``group`` when one is given)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, count, eps, group):
        invstd = torch.rsqrt(var + eps)
        ctx.save_for_backward(x, weight, mean, invstd, count)
        ctx.eps, ctx.group = eps, group
        return F.batch_norm(x, mean, var, weight, bias, False, 0., eps)

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, invstd, count = ctx.saved_tensors
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        mask = [needs_x and ctx.group is None, needs_weight or ctx.group is not None,
                needs_bias or ctx.group is not None]
        grad_x, sum_grad_xhat, sum_grad = torch.ops.aten.native_batch_norm_backward(
            grad, x, weight, None, None, mean, invstd, True, ctx.eps, mask)
        if ctx.group is not None and needs_x:
            grad_x = _synchronised_input_grad(grad, x, weight, mean, invstd, count,
                                              torch.stack([sum_grad, sum_grad_xhat]), ctx.group)
        return (grad_x, sum_grad_xhat if needs_weight else None, sum_grad if needs_bias else None,
                None, None, None, None, None)


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
        self.kept: Dict[int, List[Statistics]] = {id(norm): [] for norm in self.norms}

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
        group = sync_group(norm)
        if reuse:
            statistics = self.kept[id(norm)][calls[id(norm)]]
            calls[id(norm)] += 1
        else:
            if group is None and x.numel() == x.shape[1]:
                raise ValueError('Expected more than 1 value per channel when training, got '
                                 f'input size {list(x.shape)}')
            with torch.no_grad():
                statistics = batch_statistics(x, group)
                update_running_statistics(norm, statistics)
            self.kept[id(norm)].append(statistics)
        mean, var, count = statistics
        return NormaliseWithStatistics.apply(x, norm.weight, norm.bias, mean, var, count,
                                             norm.eps, group)


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
