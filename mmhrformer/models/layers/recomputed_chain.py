"""A chain of modules ending in a convolution, keeping only the chain's input for backward.

In training, autograd keeps the input of every op for the backward pass: in the HRFormer FFN that is
six maps of ``4 * C`` channels per block (BatchNorm input, GELU input, depth-wise conv input, twice),
most of its activation memory. :class:`RecomputedChain` keeps just the chain's input and recomputes
the ``cheap`` modules in the backward pass (the FFN passes ``fc1`` too: one 1x1 convolution
recomputed, a trade of compute for ``4 * C`` channels per pixel); the ``last`` convolution is not
run again: its input goes straight to its backward kernel. The results are those of running the
modules one after the other: the same kernels run on the same inputs.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def replay(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` again, without its side effects: a BatchNorm does not update its running
    statistics a second time (it normalises with the statistics its forward pass used)."""
    if isinstance(module, nn.BatchNorm2d):
        use_batch_stats = module.training or module.running_mean is None
        running = (None, None) if use_batch_stats else (module.running_mean, module.running_var)
        return F.batch_norm(x, *running, module.weight, module.bias, use_batch_stats, 0.,
                            module.eps)
    return module(x)


def can_recompute(modules: Sequence[nn.Module]) -> bool:
    """Whether :func:`replay` reproduces these modules: plain BatchNorm (not SyncBN, whose
    statistics need the other processes), convolutions and stateless activations."""
    return all(type(m) in (nn.BatchNorm2d, nn.Conv2d) or not list(m.parameters(recurse=True))
               and not list(m.buffers()) for m in modules)


def _conv_backward(conv: nn.Conv2d, grad_out: torch.Tensor, conv_input: torch.Tensor,
                   params_need_grad: bool) -> List[Optional[torch.Tensor]]:
    """Gradients of ``conv`` for its input, weight and bias, without running it forward; in
    ``conv_input``'s dtype (the one an autocast forward pass computed in), parameters' in theirs."""
    bias_sizes = None if conv.bias is None else list(conv.bias.shape)
    mask = [True, params_need_grad, params_need_grad and conv.bias is not None]
    grad_input, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
        grad_out.to(conv_input.dtype), conv_input, conv.weight.to(conv_input.dtype), bias_sizes,
        conv.stride, conv.padding, conv.dilation, False, [0, 0], conv.groups, mask)
    return [grad_input] + [None if g is None else g.to(conv.weight.dtype)
                           for g in (grad_weight, grad_bias)]


class RecomputedChain(torch.autograd.Function):
    """``last(cheap[-1](...cheap[0](x)))``, keeping only ``x`` for the backward pass.

    Called as ``RecomputedChain.apply(x, cheap, last, *params)`` where ``params`` are the
    parameters of ``cheap`` then ``last``, in ``parameters()`` order, so that autograd hands
    their gradients back; ``last`` may be None.
    """

    @staticmethod
    def forward(ctx, x, cheap, last, *params):
        ctx.cheap, ctx.last = cheap, last
        device = x.device.type
        ctx.autocast = dict(device_type=device, enabled=torch.is_autocast_enabled(device),
                            dtype=torch.get_autocast_dtype(device))
        ctx.save_for_backward(x)
        for module in cheap:
            x = module(x)
        return x if last is None else last(x)

    @staticmethod
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        cheap_params = [p for m in ctx.cheap for p in m.parameters()]
        # The replay runs under the forward pass's autocast state, so it computes in the same dtypes.
        with torch.enable_grad(), torch.autocast(**ctx.autocast):
            inputs = x.detach().requires_grad_()
            hidden = inputs
            for module in ctx.cheap:
                hidden = replay(module, hidden)
        last_grads = []
        if ctx.last is not None:
            grad_out, *last_grads = _conv_backward(
                ctx.last, grad_out, hidden.detach(), any(ctx.needs_input_grad[3 + len(cheap_params):]))
            last_grads = [g for g, p in zip(last_grads, (ctx.last.weight, ctx.last.bias))
                          if p is not None]
        wanted = [p for p in cheap_params if p.requires_grad]
        grads = iter(torch.autograd.grad(hidden, [inputs, *wanted], grad_out))
        grad_x = next(grads)
        grad_cheap = [next(grads) if p.requires_grad else None for p in cheap_params]
        return (grad_x, None, None, *grad_cheap, *last_grads)


def recomputed_chain(x: torch.Tensor, cheap: Sequence[nn.Module],
                     last: Optional[nn.Conv2d] = None) -> torch.Tensor:
    """Runs ``cheap`` then ``last`` on ``x`` (``B x C x H x W``); when gradients are needed and
    the modules allow it (:func:`can_recompute`), through :class:`RecomputedChain`."""
    modules = [*cheap] if last is None else [*cheap, last]
    params = [p for m in modules for p in m.parameters()]
    needs_grad = x.requires_grad or any(p.requires_grad for p in params)
    if torch.is_grad_enabled() and needs_grad and can_recompute(modules):
        return RecomputedChain.apply(x, tuple(cheap), last, *params)
    for module in modules:
        x = module(x)
    return x
