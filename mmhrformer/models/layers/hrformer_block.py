"""The HRFormer block: local-window self-attention followed by the depth-wise convolution FFN."""
from typing import Sequence, Union

import torch
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule

from mmhrformer.registry import MODELS
from .depthwise_conv_ffn import DepthwiseConvFFN
from .local_window_attention import LocalWindowAttention
from .recompute import recompute


@MODELS.register_module()
class HRFormerBlock(BaseModule):
    """``x + DropPath(Attn(LN(x)))``, then ``x + DropPath(FFN(LN(x)))``, on a ``B x C x H x W`` map.

    Args:
        channels: ``C``, the same in and out.
        num_heads: attention heads.
        window_size: side of the attention windows, or ``(Wh, Ww)``.
        mlp_ratio: hidden width of the FFN over ``C``.
        drop_path: probability of dropping each residual branch in training.
        with_rpe: whether the attention uses the relative position bias.
        norm_cfg: norm of the FFN's convolutions.
        transformer_norm_cfg: norm before the attention and the FFN.
        act_cfg: activation of the FFN.
        with_cp: gradient checkpointing: keep only the block's input for the backward pass and
            run the block again there (its BatchNorms reuse their batch statistics, see
            :func:`.recompute`).
        init_cfg: mmengine initialisation config.
    """

    #: Per-branch settings of the backbone that this block takes (see ``HRFormer``).
    branch_args = ('num_heads', 'window_size', 'mlp_ratio', 'with_rpe')

    def __init__(self,
                 channels: int,
                 num_heads: int,
                 window_size: Union[int, Sequence[int]] = 7,
                 mlp_ratio: float = 4.,
                 drop_path: float = 0.,
                 with_rpe: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 transformer_norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.norm1 = build_norm_layer(transformer_norm_cfg, channels)[1]
        self.attn = LocalWindowAttention(channels, num_heads, window_size, with_rpe=with_rpe)
        self.norm2 = build_norm_layer(transformer_norm_cfg, channels)[1]
        self.ffn = DepthwiseConvFFN(channels, int(channels * mlp_ratio), norm_cfg, act_cfg)
        self.drop_path = DropPath(drop_path)
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: ``B x C x H x W``. Returns: ``B x C x H x W``."""
        if self.with_cp and torch.is_grad_enabled():
            return recompute(self._forward, x, modules=[self])
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.permute(0, 2, 3, 1)  # B x H x W x C, a view
        tokens = tokens + self.drop_path(self.attn(self.norm1(tokens)))
        x = tokens.permute(0, 3, 1, 2)
        return x + self.drop_path(self.ffn(self.norm2(tokens).permute(0, 3, 1, 2)))
