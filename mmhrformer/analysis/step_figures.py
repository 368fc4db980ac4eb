"""Device-agnostic figures of one training step and of one inference.

A training step is run twice: once with :class:`.LiveTensorBytes` and :class:`.AtenOpCounter`
active (neither keeps a tensor, so neither changes what the step keeps), once with torch's FLOP
counter. The FLOP counter must run on its own: its module tracker hooks every module's inputs and
outputs for the backward pass, which keeps alive tensors that a checkpoint would have freed and
raises the peak of a model that recomputes.

- bytes kept for backward: bytes of live tensors when the loss is handed to the optimizer
  wrapper's ``backward`` (the forward pass is over) minus those before the step began; what the
  forward pass keeps for the backward pass, whether autograd saved it or a checkpoint stashed it;
- peak bytes: the most bytes of live tensors at any moment of the step (forward pass, backward
  pass, optimizer update) above those before it;
- aten ops dispatched, and FLOPs executed, recomputation in the backward pass included; of the
  ops, those of the optimizer's update (from ``optim_wrapper.step`` on), which depend on the
  config's optimizer rather than on the model.

Tensors that exist before the step (parameters, the optimizer's state, the batch) are not counted;
run a step before measuring, so that the optimizer's state exists, and let the wrapper set the
gradients to None after each step (mmengine's does), so that the step frees none of them.
"""
import gc
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NamedTuple

import torch
from mmengine.optim import OptimWrapper

from .dispatch_counts import AtenOpCounter, flop_counter
from .live_memory import LiveTensorBytes


class TrainingFigures(NamedTuple):
    kept_bytes: int
    peak_bytes: int
    flops: int
    ops: int  # aten ops that are not views
    view_ops: int
    update_ops: int  # of ``ops``, those of the optimizer's update


@contextmanager
def _calling_first(optim_wrapper: OptimWrapper, method: str,
                   callback: Callable[[], None]) -> Iterator[None]:
    """Calls ``callback()`` each time ``optim_wrapper.<method>`` is called, before it runs."""
    original = getattr(optim_wrapper, method)

    def hooked(*args, **kwargs):
        callback()
        return original(*args, **kwargs)
    setattr(optim_wrapper, method, hooked)
    try:
        yield
    finally:
        delattr(optim_wrapper, method)  # the class's method again


def training_step_figures(step: Callable[[], Any], optim_wrapper: OptimWrapper) -> TrainingFigures:
    """Measures ``step``, a training step that hands its loss to ``optim_wrapper.backward``
    (``update_params`` does; so does ``model.train_step(data, optim_wrapper)``); calls it twice
    (see above)."""
    gc.collect()  # nothing from before freed during the step
    at_loss, at_update = [], []
    with LiveTensorBytes() as memory, AtenOpCounter() as ops, \
            _calling_first(optim_wrapper, 'backward', lambda: at_loss.append(memory.live)), \
            _calling_first(optim_wrapper, 'step', lambda: at_update.append(ops.non_views)):
        step()
    if not (at_loss and at_update):
        raise RuntimeError('the step never called optim_wrapper.backward and .step')
    with flop_counter() as flops:
        step()
    return TrainingFigures(at_loss[0], memory.peak, flops.get_total_flops(), ops.non_views,
                           ops.views, ops.non_views - at_update[0])


def count_ops(forward: Callable[[], Any]) -> AtenOpCounter:
    """The aten ops dispatched by one call of ``forward`` (an inference: eval mode, no
    gradients); read ``non_views`` and ``views``."""
    with AtenOpCounter() as ops:
        forward()
    return ops


def cuda_peak_bytes(step: Callable[[], Any]) -> int:
    """``torch.cuda.max_memory_allocated`` during one call of ``step``, above what was
    allocated before it: the peak figure above as the CUDA caching allocator counts it."""
    torch.cuda.synchronize()
    start = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - start


def cuda_kernels(step: Callable[[], Any]) -> int:
    """The GPU activities (kernels, copies, fills) of one call of ``step``, as
    ``torch.profiler`` records them on the CUDA device: the launches that the aten op count
    above stands for."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        step()
        torch.cuda.synchronize()
    return sum(event.device_type == torch.autograd.DeviceType.CUDA
               for event in profiler.events())
