"""Cutting a map into non-overlapping windows and putting it back together.

The padding rule is stated once, here: a map whose height or width is not a multiple of the window
is padded with zeros around its centre (``pad // 2`` before, the rest after), as in the official
HRFormer code, so that the windows at both borders see the same amount of padding.
"""
from typing import Tuple

import torch
import torch.nn.functional as F


def center_padding(size: int, window: int) -> Tuple[int, int]:
    """Returns the (before, after) padding that makes ``size`` a multiple of ``window``."""
    pad = -size % window
    return pad // 2, pad - pad // 2


def partition_windows(x: torch.Tensor, window_size: Tuple[int, int]) -> torch.Tensor:
    """Pads a map around its centre and cuts it into windows.

    Args:
        x: tokens as a map, ``B x H x W x C``.
        window_size: ``(Wh, Ww)``.

    Returns:
        ``(B * nH * nW) x (Wh * Ww) x C`` with ``nH = ceil(H / Wh)``, ``nW = ceil(W / Ww)``; windows
        are ordered row by row within each image.
    """
    batch, height, width, channels = x.shape
    win_h, win_w = window_size
    top, bottom = center_padding(height, win_h)
    left, right = center_padding(width, win_w)
    if top or bottom or left or right:
        x = F.pad(x, (0, 0, left, right, top, bottom))
    rows, cols = (height + top + bottom) // win_h, (width + left + right) // win_w
    x = x.view(batch, rows, win_h, cols, win_w, channels).transpose(2, 3)
    return x.reshape(batch * rows * cols, win_h * win_w, channels)


def merge_windows(windows: torch.Tensor, map_size: Tuple[int, int],
                  window_size: Tuple[int, int]) -> torch.Tensor:
    """The inverse of :func:`partition_windows`: stitches windows and removes the padding.

    Args:
        windows: ``(B * nH * nW) x (Wh * Ww) x C``.
        map_size: ``(H, W)`` of the map before padding.
        window_size: ``(Wh, Ww)``.

    Returns:
        ``B x H x W x C``.
    """
    height, width = map_size
    win_h, win_w = window_size
    top, bottom = center_padding(height, win_h)
    left, right = center_padding(width, win_w)
    rows, cols = (height + top + bottom) // win_h, (width + left + right) // win_w
    channels = windows.shape[-1]
    x = windows.view(-1, rows, cols, win_h, win_w, channels).transpose(2, 3)
    x = x.reshape(-1, rows * win_h, cols * win_w, channels)
    return x[:, top:top + height, left:left + width]
