import pytest
import torch

from mmhrformer.models.layers.windows import center_padding, merge_windows, partition_windows


@pytest.mark.parametrize('size,window,expected', [(14, 7, (0, 0)), (10, 7, (2, 2)),
                                                  (9, 7, (2, 3)), (1, 7, (3, 3))])
def test_center_padding_puts_the_floor_half_first(size, window, expected):
    assert center_padding(size, window) == expected


@pytest.mark.parametrize('height,width', [(14, 21), (9, 13), (3, 2)])
def test_partition_then_merge_is_identity(height, width):
    x = torch.randn(2, height, width, 5)
    windows = partition_windows(x, (7, 7))
    assert windows.shape == (2 * -(-height // 7) * -(-width // 7), 49, 5)
    assert torch.equal(merge_windows(windows, (height, width), (7, 7)), x)


def test_windows_hold_contiguous_patches_of_the_centre_padded_map():
    x = torch.arange(9 * 9, dtype=torch.float).view(1, 9, 9, 1)
    windows = partition_windows(x, (7, 7))  # padded to 14 x 14: 2 rows, then 3 at the far side
    first = windows[0, :, 0].view(7, 7)
    assert torch.equal(first[:2], torch.zeros(2, 7))  # padding rows on top
    assert torch.equal(first[2:, 2:], x[0, :5, :5, 0])
    last = windows[3, :, 0].view(7, 7)
    assert torch.equal(last[:4, :4], x[0, 5:, 5:, 0])
