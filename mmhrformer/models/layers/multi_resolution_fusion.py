"""Exchange of information between the parallel resolution streams (HRNet's fusion)."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.model import BaseModule

from mmhrformer.registry import MODELS


@MODELS.register_module()
class MultiResolutionFusion(BaseModule):
    """Each output stream is the ReLU of the sum of every input stream brought to its resolution.

    Stream ``j`` reaches a higher-resolution stream ``i < j`` through a 1x1 conv + norm and a
    resize to the exact size of stream ``i`` (so any input size works, not only multiples of 32);
    it reaches a lower-resolution stream ``i > j`` through ``i - j`` depth-wise separable stride-2
    convolutions (3x3 depth-wise conv + norm + 1x1 conv + norm, with a ReLU between steps).

    Args:
        channels: channels of each stream, highest resolution first.
        norm_cfg: norm after each convolution.
        upsample_mode: interpolation of the upsampling paths, ``'bilinear'`` (mmpose's port and
            the official pose code) or ``'nearest'`` (the official classification and
            segmentation code).
        out_streams: the output streams to compute (default: all). The last module of a backbone
            whose user takes only some streams (a pose model takes stream 0) computes only those.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, channels: Sequence[int], norm_cfg: dict = dict(type='BN'),
                 upsample_mode: str = 'bilinear', out_streams: Optional[Sequence[int]] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if upsample_mode not in ('bilinear', 'nearest'):
            raise ValueError(
                f"upsample_mode must be 'bilinear' or 'nearest', got {upsample_mode!r}")
        self.upsample_mode = upsample_mode
        if out_streams is None:
            out_streams = range(len(channels))
        # Keyed by the output stream, so that checkpoint keys do not depend on which are computed.
        self.paths = nn.ModuleDict({
            str(dst): nn.ModuleList(
                self._make_path(channels, src, dst, norm_cfg) for src in range(len(channels)))
            for dst in sorted(out_streams)})
        self.relu = nn.ReLU()

    @staticmethod
    def _make_path(channels: Sequence[int], src: int, dst: int, norm_cfg: dict) -> nn.Module:
        if src == dst:
            return nn.Identity()
        if src > dst:  # upsampling: the resize happens in forward, to the exact target size
            return ConvModule(channels[src], channels[dst], 1, norm_cfg=norm_cfg, act_cfg=None)
        steps = []
        for step in range(dst - src):
            last = step == dst - src - 1
            steps.append(DepthwiseSeparableConvModule(
                channels[src], channels[dst] if last else channels[src], 3, stride=2, padding=1,
                norm_cfg=norm_cfg, dw_act_cfg=None,
                pw_act_cfg=None if last else dict(type='ReLU')))
        return nn.Sequential(*steps)

    def _resize(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        if self.upsample_mode == 'nearest':
            return F.interpolate(x, size=size, mode='nearest')
        return F.interpolate(x, size=size, mode='bilinear', align_corners=False)

    def forward(self, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Args: inputs: ``B x C_i x H_i x W_i`` per stream.

        Returns: the fused ``B x C_i x H_i x W_i`` of each stream of ``out_streams``, in order.
        """
        outputs = []
        for dst, paths in self.paths.items():
            dst = int(dst)
            total = inputs[dst]
            for src, path in enumerate(paths):
                if src == dst:
                    continue
                moved = path(inputs[src])
                if src > dst:
                    moved = self._resize(moved, inputs[dst].shape[2:])
                total = total + moved
            outputs.append(self.relu(total))
        return outputs
