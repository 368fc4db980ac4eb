"""The FFN of the HRFormer block: a 3x3 depth-wise convolution between two 1x1 convolutions."""
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import Sequential

from mmhrformer.registry import MODELS
from .batch_norm_folding import folded_conv_params, uses_running_stats
from .channel_grouped_hidden import ChannelGroupedHiddenEnd
from .channels_last_gelu import build_ffn_activation
from .fused_ops import conv2d_activation
from .recomputed_chain import SPLIT_BYTES, ConvEnd, recomputed_chain
from .tracing import traced_or_compiled


def _to_tokens(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)  # B x C x H x W -> B x H x W x C, a view


def _to_map(tokens: torch.Tensor) -> torch.Tensor:
    return tokens.permute(0, 3, 1, 2)


@MODELS.register_module()
class DepthwiseConvFFN(Sequential):
    """1x1 conv (C -> hidden) -> norm -> act -> 3x3 depth-wise conv -> norm -> act
    -> 1x1 conv (hidden -> C) -> norm -> act, on a ``B x C x H x W`` map.

    The depth-wise convolution is what exchanges information between neighbouring windows of the
    attention. The convolutions keep their biases, as in the official model, so that its checkpoints
    load as they are. In training, the maps up to ``fc2`` (``fc1``'s output included) are recomputed
    in the backward pass from the FFN's input, those after ``fc2`` from ``fc2``'s output, instead of
    being kept (see :mod:`.recomputed_chain`): with BatchNorm this keeps ``2 * C`` channels per
    pixel instead of ``26 * C``, and gives the same gradients. With plain BatchNorms a large hidden
    map is made a group of ``2 * C`` channels at a time, and the backward pass replays it in groups
    of multiples of ``C`` channels of at most 4 MB, so that no map wider than ``2 * C`` is made (see
    :mod:`.channel_grouped_hidden`). A ``pre_norm`` given to :meth:`forward` (the block's layer
    norm) joins the recomputed part, so that its output is not kept either. When the norms use their
    running statistics (inference), each is folded into its convolution (:mod:`.batch_norm_folding`)
    and, on the CPU, the activation is applied by the convolution's kernel (:mod:`.fused_ops`); a
    batch whose hidden map would take ``SPLIT_BYTES`` or more then runs a few samples at a time (see
    :meth:`_inference`).

    Args:
        in_channels: ``C``.
        hidden_channels: width of the expanded map (``mlp_ratio * C``).
        norm_cfg: norm after each convolution.
        act_cfg: activation after each norm.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg=None):
        layers = OrderedDict(
            fc1=nn.Conv2d(in_channels, hidden_channels, 1),
            norm1=build_norm_layer(norm_cfg, hidden_channels)[1],
            act1=build_ffn_activation(act_cfg),
            dwconv=nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1,
                             groups=hidden_channels),
            norm2=build_norm_layer(norm_cfg, hidden_channels)[1],
            act2=build_ffn_activation(act_cfg),
            fc2=nn.Conv2d(hidden_channels, in_channels, 1),
            norm3=build_norm_layer(norm_cfg, in_channels)[1],
            act3=build_ffn_activation(act_cfg))
        super().__init__(layers, init_cfg=init_cfg)

    def forward(self, x: torch.Tensor, pre_norm: Optional[nn.Module] = None) -> torch.Tensor:
        """Args: x: ``B x C x H x W``; pre_norm: a norm over the channels of each pixel, applied to
        ``x`` first (the block's layer norm; in training recomputed rather than kept).

        Returns: ``B x C x H x W``.
        """
        normalise = () if pre_norm is None else (_to_tokens, pre_norm, _to_map)
        units = ((self.fc1, self.norm1, self.act1), (self.dwconv, self.norm2, self.act2),
                 (self.fc2, self.norm3, self.act3))
        if all(uses_running_stats(norm) for _, norm, _ in units):
            return self._inference(x, normalise, units)
        if ChannelGroupedHiddenEnd.supports(self):
            out = recomputed_chain(x, normalise, ChannelGroupedHiddenEnd(self, x))
        else:
            out = recomputed_chain(x, (*normalise, self.fc1, self.norm1, self.act1, self.dwconv,
                                       self.norm2, self.act2), ConvEnd(self.fc2))
        return recomputed_chain(out, (self.norm3, self.act3))

    def hidden_map_bytes(self, x: torch.Tensor) -> int:
        """Bytes of the hidden map (``mlp_ratio * C`` channels) made for the input ``x``."""
        return x.numel() // x.shape[1] * self.fc1.out_channels * x.element_size()

    def _inference(self, x: torch.Tensor, normalise: Sequence[Callable], units) -> torch.Tensor:
        """The FFN with each norm folded into its convolution, on parts of the batch ``x``
        (``B x C x H x W``; see :meth:`_inference_part_size`). With running statistics every op
        works on each sample alone, so the parts give the same outputs. A large tensor gets
        fresh pages from glibc at every call, each a page fault (7488 per map in HRFormer-B's
        first stream at batch 8, 256x192), where the smaller parts reuse its heap: HRFormer-B's
        inference is about 13% faster so (measured).

        Returns: ``B x C x H x W``.
        """
        params = [folded_conv_params(conv, norm) for conv, norm, _ in units]
        parts = []
        for part in x.split(self._inference_part_size(x)):
            for op in normalise:
                part = op(part)
            for (conv, _, act), (weight, bias) in zip(units, params):
                part = conv2d_activation(part, weight, bias, conv, act)
            parts.append(part)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _inference_part_size(self, x: torch.Tensor) -> int:
        """Samples of ``x`` per part at inference: the whole batch while a tracer or compiler
        records the ops (a compiled graph plans its own buffers), else as many as keep the
        hidden map under ``SPLIT_BYTES``."""
        if traced_or_compiled():
            return x.shape[0]
        return max(1, SPLIT_BYTES // self.hidden_map_bytes(x[:1]))
