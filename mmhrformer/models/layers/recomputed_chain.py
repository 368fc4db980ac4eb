"""A chain of cheap ops ending in an expensive one, keeping only the chain's input for backward.

In training, autograd keeps the input of every op for the backward pass: in the HRFormer FFN that is
six maps of ``4 * C`` channels per block (BatchNorm input, GELU input, depth-wise conv input,
twice), and in the attention the normalised tokens, cut into padded windows.
:class:`RecomputedChain` keeps just the chain's input and replays the ``cheap`` ops in the backward
pass (the FFN passes its first 1x1 convolution too: one convolution recomputed, a trade of compute
for ``4 * C`` channels per pixel). The ``last`` op (a :class:`ChainEnd`) computes its own gradients
from the replayed input, so it is not run again. The results are those of running the ops one after
the other: the same kernels run on the same inputs, but for a BatchNorm, which the replay
normalises with the batch statistics of the forward pass (:mod:`.chain_batch_norm`), equal up to
rounding.
"""
from abc import ABC, abstractmethod
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .chain_batch_norm import batch_norm, begin_batch, generation, replay_batch_norm
from .fused_ops import conv2d_like

#: A step of a chain: a module, or a function without parameters (a reshape, a permutation).
Op = Union[nn.Module, Callable[[torch.Tensor], torch.Tensor]]

#: A chain end makes a wide tensor it frees again (the FFN's hidden map, the attention's packed
#: query/key/value) in parts no wider than its input (the FFN: twice) when the whole would take at
#: least this many bytes. glibc's allocator keeps freed memory for reuse, and a large tensor made
#: and freed in every block leaves holes that the narrower maps made next fill only in part, so its
#: heap grows (HRFormer-B, batch 8 at 256x192: training peak RSS about 1 GB lower, measured). Below
#: this size the holes matter little, and the extra ops of the parts cost more time than they save
#: memory (HRFormer-S's training step was about 10% slower with every such tensor cut, measured).
#: The FFN's inference makes its hidden map in parts from the same size (see DepthwiseConvFFN).
SPLIT_BYTES = 8 * 2**20


class ChainEnd(ABC):
    """The expensive last op of a chain: it runs forward and computes its own gradients from its
    input, which the chain replays instead of keeping."""

    @abstractmethod
    def tensors(self) -> List[Optional[torch.Tensor]]:
        """The tensors, besides the input, that the op depends on (weights): the chain passes them
        through autograd, in this order, and takes their gradients from :meth:`backward`."""

    @abstractmethod
    def forward(self, x: torch.Tensor, *tensors: Optional[torch.Tensor]) -> torch.Tensor:
        """The op's output for input ``x`` and the tensors of :meth:`tensors`."""

    @abstractmethod
    def backward(self, grad_y: torch.Tensor, x: torch.Tensor,
                 tensors: Sequence[Optional[torch.Tensor]],
                 needs_grad: Sequence[bool]) -> List[Optional[torch.Tensor]]:
        """Returns the gradient of ``x``, then that of each of ``tensors`` (None where
        ``needs_grad`` is False or the tensor is None)."""


class ConvEnd(ChainEnd):
    """A convolution as the last op: its backward kernel runs on the replayed input, in that
    input's dtype (the one an autocast forward pass computed in), weight gradients in theirs."""

    def __init__(self, conv: nn.Conv2d):
        self.conv = conv

    def tensors(self) -> List[Optional[torch.Tensor]]:
        return [self.conv.weight, self.conv.bias]

    def forward(self, x, weight, bias):
        return conv2d_like(self.conv, x, weight, bias)

    def backward(self, grad_y, x, tensors, needs_grad):
        conv, (weight, bias) = self.conv, tensors
        bias_sizes = None if bias is None else list(bias.shape)
        mask = [True, needs_grad[0], needs_grad[1] and bias is not None]
        grad_x, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad_y.to(x.dtype), x, weight.to(x.dtype), bias_sizes, conv.stride, conv.padding,
            conv.dilation, False, [0, 0], conv.groups, mask)
        return [grad_x, *(None if g is None else g.to(weight.dtype)
                          for g in (grad_weight, grad_bias))]


def autocast_state(device_type: str) -> dict:
    """The autocast state now on ``device_type``, as keyword arguments of ``torch.autocast``, so
    that a replay in the backward pass computes in the dtypes of the forward pass."""
    return dict(device_type=device_type, enabled=torch.is_autocast_enabled(device_type),
                dtype=torch.get_autocast_dtype(device_type))


def run(op: Op, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[int]]:
    """``op(x)``, and for a BatchNorm the :func:`.generation` of the batch statistics it kept."""
    if type(op) is nn.BatchNorm2d:
        update_factor = begin_batch(op)
        return batch_norm(op, x, op.weight, op.bias, update_factor=update_factor), generation(op)
    return op(x), None


def replay(op: Op, x: torch.Tensor, forward_generation: Optional[int]) -> torch.Tensor:
    """``op(x)`` again, without its side effects: a BatchNorm normalises with the statistics it
    kept in the forward pass whose generation :func:`run` returned, and does not update its
    running averages a second time."""
    if type(op) is nn.BatchNorm2d:
        return replay_batch_norm(op, x, op.weight, op.bias, forward_generation)
    return op(x)


def can_recompute(ops: Sequence[Op]) -> bool:
    """Whether :func:`replay` reproduces these ops: plain BatchNorm (not SyncBN, whose statistics
    need the other processes), LayerNorm, convolutions, and modules or functions without state."""
    replayable = (nn.BatchNorm2d, nn.LayerNorm, nn.Conv2d)
    return all(not isinstance(op, nn.Module) or type(op) in replayable
               or not list(op.parameters()) and not list(op.buffers()) for op in ops)


def parameters_of(ops: Sequence[Op]) -> List[nn.Parameter]:
    """The parameters of the modules among ``ops``, in order."""
    return [p for op in ops if isinstance(op, nn.Module) for p in op.parameters()]


class RecomputedChain(torch.autograd.Function):
    """``last(cheap[-1](...cheap[0](x)))``, keeping only ``x`` for the backward pass.

    Called as ``RecomputedChain.apply(x, cheap, last, *params, *last.tensors())`` where ``params``
    are :func:`parameters_of` ``cheap``, so that autograd hands their gradients back; ``last`` may
    be None.
    """

    @staticmethod
    def forward(ctx, x, cheap, last, *tensors):
        ctx.cheap, ctx.last, ctx.cheap_params = cheap, last, parameters_of(cheap)
        ctx.autocast = autocast_state(x.device.type)
        ctx.save_for_backward(x, *tensors)
        ctx.generations = []
        for op in cheap:
            x, op_generation = run(op, x)
            ctx.generations.append(op_generation)
        return x if last is None else last.forward(x, *tensors[len(ctx.cheap_params):])

    @staticmethod
    def backward(ctx, grad_y):
        x, *tensors = ctx.saved_tensors
        cheap_params = ctx.cheap_params
        # The replay runs under the forward pass's autocast state: it computes in the same dtypes.
        with torch.enable_grad(), torch.autocast(**ctx.autocast):
            inputs = x.detach().requires_grad_()
            hidden = inputs
            for op, op_generation in zip(ctx.cheap, ctx.generations):
                hidden = replay(op, hidden, op_generation)
        last_grads = []
        if ctx.last is not None:
            grad_y, *last_grads = ctx.last.backward(
                grad_y, hidden.detach(), tensors[len(cheap_params):],
                ctx.needs_input_grad[3 + len(cheap_params):])
        if not ctx.cheap:
            return (grad_y, None, None, *last_grads)
        wanted = [p for p in cheap_params if p.requires_grad]
        grads = iter(torch.autograd.grad(hidden, [inputs, *wanted], grad_y))
        grad_x = next(grads)
        grad_cheap = [next(grads) if p.requires_grad else None for p in cheap_params]
        return (grad_x, None, None, *grad_cheap, *last_grads)


def recomputed_chain(x: torch.Tensor, cheap: Sequence[Op],
                     last: Optional[ChainEnd] = None) -> torch.Tensor:
    """Runs ``cheap`` then ``last`` on ``x``; when gradients are needed and the ops allow it
    (:func:`can_recompute`), through :class:`RecomputedChain`."""
    tensors = [*parameters_of(cheap), *([] if last is None else last.tensors())]
    needs_grad = x.requires_grad or any(t is not None and t.requires_grad for t in tensors)
    if torch.is_grad_enabled() and needs_grad and can_recompute(cheap):
        return RecomputedChain.apply(x, tuple(cheap), last, *tensors)
    for op in cheap:
        x = op(x)
    return x if last is None else last.forward(x, *last.tensors())
