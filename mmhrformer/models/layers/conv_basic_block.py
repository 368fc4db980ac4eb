"""HRNet's basic block, as a stand-in for the HRFormer block in the paper's ablation."""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule

from mmhrformer.registry import MODELS
from .recompute import recompute


@MODELS.register_module()
class ConvBasicBlock(BaseModule):
    """``ReLU(x + DropPath(BN(conv3x3(ReLU(BN(conv3x3(x)))))))``, on a ``B x C x H x W`` map.

    ``HRFormer(block_type='ConvBasicBlock')`` is the paper's ablation: HRFormer's layout with every
    transformer block replaced by two 3x3 convolutions, i.e. an HRNet with HRFormer's widths.

    Args:
        channels: ``C``, the same in and out.
        drop_path: probability of dropping the residual branch in training.
        norm_cfg: norm after each convolution.
        with_cp: gradient checkpointing, as in :class:`.HRFormerBlock`.
        init_cfg: mmengine initialisation config.
    """

    #: Per-branch settings of the backbone that this block takes: none beyond the channels.
    branch_args = ()

    def __init__(self, channels: int, drop_path: float = 0., norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg)
        self.conv2 = ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg,
                                act_cfg=None)
        self.drop_path = DropPath(drop_path)
        self.relu = nn.ReLU()
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: ``B x C x H x W``. Returns: ``B x C x H x W``."""
        if self.with_cp and torch.is_grad_enabled():
            return recompute(self._forward, x, modules=[self])
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.drop_path(self.conv2(self.conv1(x))))
