"""The FFN's wide part, computed a group of hidden channels at a time, as the end of a chain.

Between its two 1x1 convolutions the FFN works on ``mlp_ratio * C`` channels, each channel on its
own (BatchNorm normalises per channel, the activation per element, the convolution is depth-wise),
and ``fc2`` sums over them. :class:`ChannelGroupedHiddenEnd` runs ``fc1 -> norm1 -> act1 -> dwconv
-> norm2 -> act2 -> fc2`` on groups of hidden channels and adds up the groups' ``fc2`` outputs: in
the forward pass groups of :data:`FORWARD_GROUP_WIDTH` ``* C`` channels when the hidden map is large
(:data:`.recomputed_chain.SPLIT_BYTES`); the backward pass replays one group at a time from the
chain's input, in groups of whole multiples of ``C`` channels no larger than
:data:`BACKWARD_GROUP_BYTES` (at least ``C``). So, when the hidden map is large, no tensor the
forward pass makes is wider than twice the block's map, and the backward pass's groups are no
wider than the map, nor larger than those bytes unless ``C`` channels alone are; glibc's heap then
reuses the holes that freed maps leave instead of growing for the next wide map. The replay
normalises with the batch statistics of the forward pass (:mod:`.chain_batch_norm`). Results equal
those of the whole-width ops up to the order of the sums in ``fc2`` and rounding.
"""
from functools import partial
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn as nn

from .chain_batch_norm import batch_norm, begin_batch, generation, replay_batch_norm
from .fused_ops import conv2d_like
from .recomputed_chain import SPLIT_BYTES, ChainEnd, ConvEnd, autocast_state, can_recompute

#: The forward pass makes a large hidden map in groups of this many times ``C`` channels (two
#: groups at HRFormer's ``mlp_ratio`` of 4). With groups of ``C``, HRFormer-B's training peak RSS
#: was no lower (2912-2980 MB against 2922-2995 MB, six runs each, batch 8 at 256x192), and its
#: step took 5.5% longer (interleaved in one process, medians of five): its 1x1 convolutions,
#: depth-wise convolutions and BatchNorms on 78 or 156 channels run less efficiently than on twice
#: as many.
FORWARD_GROUP_WIDTH = 2

#: The backward pass replays the hidden map in groups of whole multiples of ``C`` channels whose
#: maps take at most this many bytes (at least ``C`` channels). The replay keeps about eight tensors
#: of a group alive at once (the inputs autograd saves, and the gradients); those that find no hole
#: in the heap go on its top, and glibc hands the top back to the system once it holds more than
#: its trim threshold (twice the largest block it has mapped and freed: 50 MB after the stem's
#: 25 MB maps at batch 8, 256x192), a page fault per 4 KB page when the next block takes it again.
#: Groups of ``C`` channels at least: ``2 * C`` did not fit the ``C``-wide holes of the larger
#: streams (HRFormer-S, before groups of ``C``: 232,000 page faults per step against 39,000).
#: Groups of at most 4 MB: HRFormer-T's first stream (18 channels, hidden map 7 MB at batch 8,
#: 256x192), replayed whole, made its heap grow and shrink by about 54 MB in each of its twelve
#: blocks; in two groups its step took 37,000-52,000 page faults instead of 37,000-155,000, and
#: ours against itself in rounds of fresh processes taking turns: T 1.06x, S 1.02x (four rounds),
#: B 1.10x (two), batch 8 at 256x192.
BACKWARD_GROUP_BYTES = 4 * 2**20

#: Per-group tensors of the hidden part: fc1's, norm1's, dwconv's and norm2's weight and bias.
HiddenTensors = Sequence[Optional[torch.Tensor]]
#: A norm of the hidden part, cut to a group: ``(x, weight, bias) -> output``.
GroupNorm = Callable[[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]], torch.Tensor]


class ChannelGroupedHiddenEnd(ChainEnd):
    """``fc2(act2(norm2(dwconv(act1(norm1(fc1(x)))))))`` of a :class:`.DepthwiseConvFFN`,
    ``B x C x H x W`` -> ``B x C x H x W``, computed on groups of hidden channels
    (forward: :data:`FORWARD_GROUP_WIDTH` ``* C`` when the hidden map of ``x`` takes at least
    :data:`.recomputed_chain.SPLIT_BYTES`, else in one group; backward: multiples of ``C`` up to
    :data:`BACKWARD_GROUP_BYTES`).

    Args:
        ffn: the FFN, whose ``norm1`` and ``norm2`` are plain BatchNorms (:meth:`supports`).
        x: the FFN's input (its size decides the groups).
    """

    def __init__(self, ffn: nn.Module, x: torch.Tensor):
        self.ffn = ffn
        self.fc2 = ConvEnd(ffn.fc2)
        split = ffn.hidden_map_bytes(x) >= SPLIT_BYTES
        self.forward_groups = self._groups(FORWARD_GROUP_WIDTH if split else None)
        self.backward_groups = self._groups(self._backward_group_width(x))
        self.autocast = autocast_state(ffn.fc1.weight.device.type)
        self.norms = (ffn.norm1, ffn.norm2)
        #: The :func:`.generation` of norm1's and norm2's kept batch statistics in the forward pass.
        self.generations: List[int] = []

    def _backward_group_width(self, x: torch.Tensor) -> int:
        """The most multiples of ``C`` whose hidden maps for ``x`` fit in
        :data:`BACKWARD_GROUP_BYTES`, at least one (``C`` hidden channels take as many bytes as
        ``x``)."""
        return max(1, BACKWARD_GROUP_BYTES // max(1, x.numel() * x.element_size()))

    def _groups(self, width: Optional[int]) -> List[slice]:
        """The hidden channels in groups of ``width * C``, or in one group (``width`` None)."""
        hidden = self.ffn.fc1.out_channels
        step = hidden if width is None else width * self.ffn.fc2.out_channels
        return [slice(start, min(start + step, hidden)) for start in range(0, hidden, step)]

    @staticmethod
    def supports(ffn: nn.Module) -> bool:
        """Whether the hidden norms are plain BatchNorms (not SyncBN) and the activations
        stateless, so that the hidden part can be cut into channel groups and replayed."""
        norms = (ffn.norm1, ffn.norm2)
        return (all(type(norm) is nn.BatchNorm2d for norm in norms)
                and can_recompute([ffn.act1, ffn.act2]))

    def tensors(self) -> List[Optional[torch.Tensor]]:
        ffn = self.ffn
        return [ffn.fc1.weight, ffn.fc1.bias, ffn.norm1.weight, ffn.norm1.bias, ffn.dwconv.weight,
                ffn.dwconv.bias, ffn.norm2.weight, ffn.norm2.bias, ffn.fc2.weight, ffn.fc2.bias]

    def _hidden(self, x: torch.Tensor, tensors: HiddenTensors,
                norms: Sequence[GroupNorm]) -> torch.Tensor:
        """``B x C x H x W`` -> the hidden channels of a group, ``B x G x H x W``, from the tensors
        cut to the group and its two ``norms``."""
        ffn = self.ffn
        fc1_weight, fc1_bias, norm1_weight, norm1_bias, dw_weight, dw_bias, *norm2 = tensors
        x = conv2d_like(ffn.fc1, x, fc1_weight, fc1_bias)
        x = ffn.act1(norms[0](x, norm1_weight, norm1_bias))
        x = conv2d_like(ffn.dwconv, x, dw_weight, dw_bias, groups=x.shape[1])
        return ffn.act2(norms[1](x, *norm2))

    @staticmethod
    def _cut(tensors: HiddenTensors, index: int, group: slice):
        """The hidden tensors cut to ``group``; fc2's weight cut to its input channels ``group``
        and its bias for the first group only (the groups' outputs are added)."""
        *hidden, fc2_weight, fc2_bias = tensors
        return ([None if t is None else t[group] for t in hidden],
                [fc2_weight[:, group], fc2_bias if index == 0 else None])

    def forward(self, x, *tensors):
        update_factors = [begin_batch(norm) for norm in self.norms]
        self.generations = [generation(norm) for norm in self.norms]
        out = None
        for index, group in enumerate(self.forward_groups):
            hidden_tensors, fc2_tensors = self._cut(tensors, index, group)
            group_norms = [partial(batch_norm, norm, channels=group, update_factor=factor)
                           for norm, factor in zip(self.norms, update_factors)]
            part = self.fc2.forward(self._hidden(x, hidden_tensors, group_norms), *fc2_tensors)
            out = part if out is None else out.add_(part)
        return out

    def backward(self, grad_y, x, tensors, needs_grad):
        grads = [torch.zeros_like(t) if t is not None and needed else None
                 for t, needed in zip(tensors, needs_grad)]
        grad_x = None
        for index, group in enumerate(self.backward_groups):
            hidden_tensors, fc2_tensors = self._cut(tensors, index, group)
            with torch.enable_grad(), torch.autocast(**self.autocast):
                inputs = x.detach().requires_grad_()
                leaves = [None if t is None else t.detach().requires_grad_(needed)
                          for t, needed in zip(hidden_tensors, needs_grad)]
                replayed_norms = [
                    partial(replay_batch_norm, norm, forward_generation=norm_generation,
                            channels=group)
                    for norm, norm_generation in zip(self.norms, self.generations)]
                hidden = self._hidden(inputs, leaves, replayed_norms)
            grad_hidden, grad_fc2_weight, grad_fc2_bias = self.fc2.backward(
                grad_y, hidden.detach(), fc2_tensors, needs_grad[-2:])
            wanted = [leaf for leaf in leaves if leaf is not None and leaf.requires_grad]
            part, *leaf_grads = torch.autograd.grad(hidden, [inputs, *wanted], grad_hidden)
            grad_x = part if grad_x is None else grad_x.add_(part)
            leaf_grads = iter(leaf_grads)
            for grad, leaf in zip(grads, leaves):
                if leaf is not None and leaf.requires_grad:
                    grad[group] = next(leaf_grads)
            if grads[-2] is not None:
                grads[-2][:, group] = grad_fc2_weight
            if index == 0:
                grads[-1] = grad_fc2_bias
        return [grad_x, *grads]
