"""The FFN of the HRFormer block: a 3x3 depth-wise convolution between two 1x1 convolutions."""
from collections import OrderedDict

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import Sequential

from mmhrformer.registry import MODELS


@MODELS.register_module()
class DepthwiseConvFFN(Sequential):
    """1x1 conv (C -> hidden) -> norm -> act -> 3x3 depth-wise conv -> norm -> act
    -> 1x1 conv (hidden -> C) -> norm -> act, on a ``B x C x H x W`` map.

    The depth-wise convolution is what exchanges information between neighbouring windows of the
    attention. The convolutions keep their biases, as in the official model, so that its
    checkpoints load as they are.

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
            act1=build_activation_layer(act_cfg),
            dwconv=nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1,
                             groups=hidden_channels),
            norm2=build_norm_layer(norm_cfg, hidden_channels)[1],
            act2=build_activation_layer(act_cfg),
            fc2=nn.Conv2d(hidden_channels, in_channels, 1),
            norm3=build_norm_layer(norm_cfg, in_channels)[1],
            act3=build_activation_layer(act_cfg))
        super().__init__(layers, init_cfg=init_cfg)
