"""Resizing a relative position bias table to another window size.

A window of side ``w`` has ``2w - 1`` relative offsets per axis, so its table holds one bias per
head for each of the ``(2w - 1) x (2w - 1)`` offsets: ``(2w - 1)^2 x heads``, rows in the order of
:func:`~mmhrformer.models.layers.local_window_attention.relative_position_index` (offset ``dy``
major, ``dx`` minor). Models with larger windows (the paper's 13x13 and 15x15 segmentation models)
start from window-7 ImageNet weights: each head's table, seen as a ``(2w - 1) x (2w - 1)`` image, is
resized by bicubic interpolation, as the official Swin Transformer loader does
(``F.interpolate(..., mode='bicubic')``, corner pixels not aligned). mmpretrain 1.2's Swin uses
``scipy.interpolate.interp2d`` on a geometric grid instead, which SciPy >= 1.14 no longer has.
"""
import math

import torch
import torch.nn.functional as F


def table_side(table: torch.Tensor, name: str = 'table') -> int:
    """``2w - 1`` for a ``(2w - 1)^2 x heads`` table; an error naming ``name`` otherwise."""
    side = math.isqrt(table.shape[0]) if table.dim() == 2 else 0
    if table.dim() != 2 or side * side != table.shape[0] or side % 2 == 0:
        raise ValueError(f'{name} must be a (2w-1)^2 x heads relative position bias table for a '
                         f'square window of side w, got shape {tuple(table.shape)}')
    return side


def resize_relative_position_bias_table(table: torch.Tensor, side: int) -> torch.Tensor:
    """Bicubic resize of each head's bias image.

    Args:
        table: ``S^2 x heads``, ``S = 2w - 1`` for the source window ``w``.
        side: ``S' = 2w' - 1`` for the target window ``w'`` (odd).

    Returns:
        ``S'^2 x heads``, in ``table``'s dtype. The zero offset stays at the centre, so its bias
        is kept exactly; the other offsets are stretched by ``S' / S``.
    """
    if side < 1 or side % 2 == 0:
        raise ValueError(f'side must be 2 * window - 1 (odd and >= 1), got {side}')
    old_side = table_side(table)
    if old_side == side:
        return table
    heads = table.shape[1]
    image = table.T.reshape(1, heads, old_side, old_side).float()
    resized = F.interpolate(image, size=(side, side), mode='bicubic', align_corners=False)
    return resized.reshape(heads, side * side).T.contiguous().to(table.dtype)
