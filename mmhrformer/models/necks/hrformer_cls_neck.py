"""HRFormer's classification head before the classifier (official ``cls/models/hrt.py``)."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule

from mmhrformer.registry import MODELS


class DepthwiseBottleneck(BaseModule):
    """``ReLU(conv1x1(dw3x3(conv1x1(x))) + proj(x))``: 1x1 conv to ``planes``, 3x3 depth-wise conv,
    1x1 conv to ``4 * planes``, each with a norm (ReLU after the first two), and a 1x1 conv + norm
    projection of the input. ``B x C_in x H x W`` -> ``B x 4 planes x H x W``."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, norm_cfg: dict, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        out_channels = planes * self.expansion
        self.conv1 = ConvModule(in_channels, planes, 1, norm_cfg=norm_cfg)
        self.conv2 = ConvModule(planes, planes, 3, padding=1, groups=planes, norm_cfg=norm_cfg)
        self.conv3 = ConvModule(planes, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.downsample = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + self.downsample(x))


def build_bn(norm_cfg: dict, channels: int) -> nn.Module:
    return build_norm_layer(norm_cfg, channels)[1]


@MODELS.register_module()
class HRFormerClsNeck(BaseModule):
    """Fuses the four HRFormer streams into one pooled ``B x out_channels`` feature vector.

    Each stream goes through a depth-wise bottleneck (to ``4 * planes[i]`` channels: 128, 256, 512,
    1024 by default); from the highest resolution down, the running map is halved by a depth-wise
    separable stride-2 convolution and added to the next stream; a 1x1 conv to ``out_channels``
    and global average pooling end it. This is the official HRFormer classifier's head, unlike
    mmpretrain's ``HRFuseScales`` (HRNet's head, full convolutions), so official weights load.

    Args:
        in_channels: channels of the four backbone maps, highest resolution first.
        planes: bottleneck widths per stream (outputs are 4x these).
        out_channels: channels of the pooled feature.
        norm_cfg: norm after each convolution.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 planes: Sequence[int] = (32, 64, 128, 256),
                 out_channels: int = 2048,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_out',
                               nonlinearity='relu')):
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(planes):
            raise ValueError(f'in_channels {tuple(in_channels)} and planes {tuple(planes)} must '
                             'have one value per backbone stream each')
        widths = [p * DepthwiseBottleneck.expansion for p in planes]
        self.in_channels = tuple(in_channels)
        self.increase_layers = nn.ModuleList(
            DepthwiseBottleneck(c, p, norm_cfg) for c, p in zip(in_channels, planes))
        # The official head keeps the biases of these convolutions: kept, so its weights load.
        self.downsample_layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(src, src, 3, stride=2, padding=1, groups=src),
                build_bn(norm_cfg, src),
                nn.Conv2d(src, dst, 1),
                build_bn(norm_cfg, dst),
                nn.ReLU()) for src, dst in zip(widths[:-1], widths[1:]))
        self.final_layer = nn.Sequential(
            nn.Conv2d(widths[-1], out_channels, 1), build_bn(norm_cfg, out_channels), nn.ReLU())

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        """Args: inputs: the four ``B x C_i x H_i x W_i`` maps.

        Returns: ``(B x out_channels, )``.
        """
        if len(inputs) != len(self.increase_layers):
            raise ValueError(f'HRFormerClsNeck takes {len(self.increase_layers)} maps, got '
                             f"{len(inputs)}: build the backbone with out_indices=(0, 1, 2, 3)")
        fused = self.increase_layers[0](inputs[0])
        for increase, downsample, x in zip(self.increase_layers[1:], self.downsample_layers,
                                           inputs[1:]):
            fused = increase(x) + downsample(fused)
        return (self.final_layer(fused).mean(dim=(2, 3)), )
