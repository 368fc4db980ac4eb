"""The work a step dispatches: aten ops and floating-point operations.

:class:`AtenOpCounter` counts the aten ops that run while it is active, forward and backward
passes alike, as the dispatcher sees them below autograd (composite ops already decomposed). On a
GPU each op that is not a view is a kernel launch or about one, so the count says how much of a
step's time goes to launching work rather than doing it; views (``view``, ``permute``, ``t``...)
only make metadata and are counted apart.

:func:`flop_counter` is torch's ``FlopCounterMode``: it counts the FLOPs (a multiply-add is two) of
matrix products, convolutions and fused attention, in the backward pass too, so that what a
checkpoint recomputes is counted as often as it runs. Element-wise ops and normalisation count
nothing. Two formulas are ours (:data:`FLOP_FORMULAS`): torch has none for the CPU kernel of
``scaled_dot_product_attention``, which gets the GPU kernels' (two matrix products forward;
backward, the scores recomputed and four products); and torch's rule for the weight gradient of a
convolution ignores its groups, counting a depth-wise convolution's as if it were dense (``C``
times too many for ``C`` channels), where each gradient, input's and weight's, takes as many
multiply-adds as the convolution itself.
"""
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import (FlopCounterMode, conv_flop_count, sdpa_backward_flop_count,
                                      sdpa_flop_count)

aten = torch.ops.aten


def _cpu_attention_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args,
                                  **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def _convolution_backward_flops(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation,
                                transposed, output_padding, groups, output_mask, *args,
                                **kwargs) -> int:
    """Each gradient asked for (``output_mask``: input, weight) as many FLOPs as the forward
    convolution; ``w_shape`` already holds the input channels per group."""
    forward = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


#: FLOP formulas that replace or add to torch's (see above); the CPU attention kernels take the
#: GPU kernels' arguments first.
FLOP_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward_flops,
    aten.convolution_backward: _convolution_backward_flops,
}


class AtenOpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched while it is active (ops of other namespaces are not).

    Attributes:
        ops (Counter): calls per op overload (``aten.mm.default`` ...).
        total (int): every call.
        views (int): calls of ops that return a view of an input.
        non_views (int): the other calls, those that make new data (about one kernel each).
    """

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()
        self.views = 0

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    @property
    def non_views(self) -> int:
        return self.total - self.views

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == 'aten':  # not the profiler's markers that optimizers dispatch
            self.ops[func] += 1
            self.views += func.is_view
        return func(*args, **(kwargs or {}))


def flop_counter() -> FlopCounterMode:
    """A ``FlopCounterMode`` with :data:`FLOP_FORMULAS` that prints nothing; read
    ``get_total_flops()`` after the step."""
    return FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS)
