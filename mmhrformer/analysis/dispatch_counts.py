"""The work a step dispatches: aten ops and floating-point operations.

:class:`AtenOpCounter` counts the aten ops that run while it is active, forward and backward
passes alike, as the dispatcher sees them below autograd (composite ops already decomposed). On a
GPU each op that is not a view is a kernel launch or about one, so the count says how much of a
step's time goes to launching work rather than doing it; views (``view``, ``permute``, ``t``...)
only make metadata and are counted apart.

:func:`flop_counter` is torch's ``FlopCounterMode``: it counts the FLOPs (a multiply-add is two) of
matrix products, convolutions and fused attention, in the backward pass too, so that what a
checkpoint recomputes is counted as often as it runs. Element-wise ops and normalisation count
nothing. torch has no formula for the CPU kernel of ``scaled_dot_product_attention``; it is given
the formula of the GPU kernels (two matrix products forward; backward, the scores recomputed and
four products).
"""
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import (FlopCounterMode, sdpa_backward_flop_count,
                                      sdpa_flop_count)

aten = torch.ops.aten


def _cpu_attention_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args,
                                  **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


#: FLOP formulas that torch lacks: the CPU kernel of ``scaled_dot_product_attention`` (its
#: arguments begin as those of the GPU kernels).
CPU_ATTENTION_FLOPS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward_flops,
}


class AtenOpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched while it is active (ops of other namespaces are not).

    Attributes:
        ops (Counter): calls per op overload (``aten.mm.default`` ...).
        total (int): every call.
        views (int): calls of ops that return a view of an input.
    """

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()
        self.views = 0

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == 'aten':  # not the profiler's markers that optimizers dispatch
            self.ops[func] += 1
            self.views += func.is_view
        return func(*args, **(kwargs or {}))


def flop_counter() -> FlopCounterMode:
    """A ``FlopCounterMode`` that prints nothing and knows the CPU attention kernel; read
    ``get_total_flops()`` after the step."""
    return FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS)
