"""Multi-head self-attention inside non-overlapping local windows (HRFormer, Sec. 3)."""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmhrformer.registry import MODELS
from .cpu_paths import scaled_dot_product_attention
from .windows import merge_windows, partition_windows


def relative_position_index(window_size: Tuple[int, int]) -> torch.Tensor:
    """Index into the bias table for every (query, key) pair of a window.

    Returns:
        ``(Wh * Ww) x (Wh * Ww)`` long tensor; entry ``[p, q]`` is
        ``(dy + Wh - 1) * (2 * Ww - 1) + (dx + Ww - 1)`` with ``(dy, dx) = p - q``.
    """
    win_h, win_w = window_size
    rows, cols = torch.meshgrid(torch.arange(win_h), torch.arange(win_w), indexing='ij')
    rows, cols = rows.flatten(), cols.flatten()
    d_row = rows[:, None] - rows[None, :] + win_h - 1
    d_col = cols[:, None] - cols[None, :] + win_w - 1
    return d_row * (2 * win_w - 1) + d_col


@MODELS.register_module()
class LocalWindowAttention(BaseModule):
    """Multi-head self-attention within each ``Wh x Ww`` window of a map.

    ``softmax(q k^T / sqrt(d) + B) v`` per window and head, ``B`` a learned relative position
    bias (one table per head). The cost is linear in the number of pixels: every token attends
    to the ``Wh * Ww`` tokens of its own window only. Maps that are not a multiple of the window
    are centre-padded with zeros (:mod:`.windows`); padded tokens take part in the attention, as
    in the official HRFormer and in mmpose's port, so that their weights give the same outputs.

    Args:
        embed_dims: channels ``C``; must be divisible by ``num_heads``.
        num_heads: attention heads.
        window_size: ``Wh`` (= ``Ww``) or ``(Wh, Ww)``.
        qkv_bias: whether the query/key/value projection has a bias.
        with_rpe: whether to add the relative position bias.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: Union[int, Sequence[int]] = 7,
                 qkv_bias: bool = True,
                 with_rpe: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} must be divisible by '
                             f'num_heads={num_heads}')
        if isinstance(window_size, int):
            window_size = (window_size, window_size)
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = tuple(window_size)
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.with_rpe = with_rpe
        if with_rpe:
            win_h, win_w = self.window_size
            self.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * win_h - 1) * (2 * win_w - 1), num_heads))
            # Derived from the window size alone, so it is not saved in checkpoints.
            self.register_buffer(
                'relative_position_index', relative_position_index(self.window_size),
                persistent=False)

    def init_weights(self):
        super().init_weights()
        if self.with_rpe:
            trunc_normal_(self.relative_position_bias_table, std=.02)

    def position_bias(self) -> torch.Tensor:
        """The bias added to the attention logits, ``num_heads x L x L``, ``L = Wh * Ww``."""
        length = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(length, length, self.num_heads).permute(2, 0, 1)

    def attend(self, windows: torch.Tensor) -> torch.Tensor:
        """Self-attention within each window: ``N x L x C`` -> ``N x L x C``."""
        num_windows, length, channels = windows.shape
        qkv = self.qkv(windows).view(num_windows, length, 3, self.num_heads, -1)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each N x heads x L x d
        bias = self.position_bias().to(query.dtype)[None] if self.with_rpe else None
        out = scaled_dot_product_attention(query, key, value, bias)
        return self.proj(out.transpose(1, 2).reshape(num_windows, length, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: ``B x H x W x C``. Returns: ``B x H x W x C``."""
        windows = self.attend(partition_windows(x, self.window_size))
        return merge_windows(windows, x.shape[1:3], self.window_size)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'window_size={self.window_size}, with_rpe={self.with_rpe}')
