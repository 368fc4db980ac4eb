"""One HRFormer module: parallel branches of blocks, then multi-resolution fusion."""
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseModule, ModuleList, Sequential

from mmhrformer.registry import MODELS
from .multi_resolution_fusion import MultiResolutionFusion


@MODELS.register_module()
class MultiResolutionModule(BaseModule):
    """Runs each resolution stream through its own sequence of blocks, then fuses the streams.

    Args:
        channels: channels of each stream, highest resolution first.
        block_cfgs: for each stream, the config dicts of its blocks (built from ``MODELS``).
        norm_cfg: norm of the fusion's convolutions.
        upsample_mode: interpolation of the fusion's upsampling paths.
        out_streams: the streams to fuse and return (default: all).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 channels: Sequence[int],
                 block_cfgs: Sequence[Sequence[dict]],
                 norm_cfg: dict = dict(type='BN'),
                 upsample_mode: str = 'bilinear',
                 out_streams: Optional[Sequence[int]] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(block_cfgs) != len(channels):
            raise ValueError(f'block_cfgs has {len(block_cfgs)} streams, channels has '
                             f'{len(channels)}: give one list of blocks per stream')
        # `_scope_`: look the block types up in our registry whatever the caller's default scope
        # (a toolbox's Runner sets its own, where our block names are unknown).
        # mmengine's containers: their init_weights reaches the blocks' own (the attention's
        # position bias table); torch's would skip them.
        self.branches = ModuleList(
            Sequential(*(MODELS.build(dict(cfg, _scope_=MODELS.scope)) for cfg in cfgs))
            for cfgs in block_cfgs)
        self.fusion = MultiResolutionFusion(channels, norm_cfg, upsample_mode, out_streams)

    def forward(self, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Args: inputs: ``B x C_i x H_i x W_i`` per stream.

        Returns: ``B x C_i x H_i x W_i`` for each stream of ``out_streams``.
        """
        streams = [branch(x) for branch, x in zip(self.branches, inputs)]
        return self.fusion(streams)
