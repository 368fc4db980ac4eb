"""What the test runs' processes import (through the config's ``custom_imports``) so that a config
written for GPUs trains unchanged in several CPU processes, and what lets the tests read each
rank's weights.

- mmengine 0.10's ``pytorch`` launcher calls ``torch.cuda.set_device``, which fails without a GPU
  ("Found no NVIDIA driver"); the Runner keeps a process group that exists already
  (``Runner.setup_env``), so one is started here, with the gloo backend.
- torch's ``SyncBatchNorm`` refuses CPU tensors (and its kernels have no CPU version, and DDP
  refuses it in CPU modules); without a GPU, ``type='SyncBN'`` is registered here as a batch
  norm that all-reduces its batch statistics over the process group, so the config's SyncBN
  still synchronises. It says so (``synchronises_statistics``), so that the memory-saving
  blocks' recomputation synchronises its statistics as well.
- :class:`RankStateDumpHook` saves each rank's ``state_dict`` to ``work_dir/rank{r}.pth`` after
  training (the CheckpointHook writes rank 0's only).
"""
import os
import os.path as osp

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, MODELS


class _AllReduceSum(torch.autograd.Function):
    """The sum over processes; the gradient of each one's input is the sum of their gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return _summed(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _summed(grad)


def _summed(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    dist.all_reduce(x)
    return x


class AllReduceBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose training statistics are those of the whole batch over all processes.

    Input and output ``B x C x H x W``; outside training or a process group, a plain BatchNorm.
    """

    #: Read by ``mmhrformer.models.layers.recompute.sync_group``.
    synchronises_statistics = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        count = _AllReduceSum.apply(x.new_tensor(x.numel() / x.shape[1]))
        mean = _AllReduceSum.apply(x.sum((0, 2, 3))) / count
        var = _AllReduceSum.apply((x * x).sum((0, 2, 3))) / count - mean * mean
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
            self.num_batches_tracked.add_(1)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return (x - mean[:, None, None]) * scale[:, None, None] + self.bias[:, None, None]


@HOOKS.register_module()
class RankStateDumpHook(Hook):
    """Saves the model's ``state_dict`` of this rank to ``work_dir/rank{rank}.pth`` after
    training."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(model.state_dict(), osp.join(runner.work_dir, f'rank{runner.rank}.pth'))


if not torch.cuda.is_available():
    MODELS.register_module('SyncBN', module=AllReduceBatchNorm, force=True)
    if 'RANK' in os.environ and not dist.is_initialized():  # started by torchrun
        dist.init_process_group('gloo')
