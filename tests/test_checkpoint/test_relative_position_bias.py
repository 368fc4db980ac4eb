"""Resizing relative position bias tables: bicubic interpolation of each head's table image."""
import pytest
import torch
import torch.nn.functional as F

from mmhrformer.checkpoint import resize_relative_position_bias_table
from mmhrformer.models.layers.local_window_attention import relative_position_index


def bicubic_per_head(table, side):
    """Each head's column as a (2w-1) x (2w-1) image (rows: vertical offset), resized alone."""
    old = int(table.shape[0]**0.5)
    columns = [F.interpolate(table[:, h].reshape(1, 1, old, old), size=(side, side),
                             mode='bicubic', align_corners=False).flatten()
               for h in range(table.shape[1])]
    return torch.stack(columns, dim=1)


@pytest.mark.parametrize('window', [13, 15])
def test_window_7_table_resized_equals_bicubic_interpolation(window):
    table = torch.randn(13 * 13, 4, generator=torch.Generator().manual_seed(0))
    resized = resize_relative_position_bias_table(table, 2 * window - 1)
    assert resized.shape == ((2 * window - 1)**2, 4)
    torch.testing.assert_close(resized, bicubic_per_head(table, 2 * window - 1), rtol=0, atol=0)


@pytest.mark.parametrize('window', [13, 15])
def test_the_zero_offset_keeps_its_bias(window):
    """The centre of the table stays the centre: the same pixel's bias, to itself."""
    table = torch.randn(13 * 13, 2, generator=torch.Generator().manual_seed(1))
    resized = resize_relative_position_bias_table(table, 2 * window - 1)
    old_zero = relative_position_index((7, 7))[0, 0]
    new_zero = relative_position_index((window, window))[0, 0]
    torch.testing.assert_close(resized[new_zero], table[old_zero])


def test_a_table_of_the_same_size_is_returned_as_it_is():
    table = torch.randn(13 * 13, 2)
    assert resize_relative_position_bias_table(table, 13) is table


@pytest.mark.parametrize('shape,side,message', [
    ((12 * 12, 2), 29, r'\(2w-1\)\^2 x heads .* got shape \(144, 2\)'),
    ((13 * 13, ), 29, r'got shape \(169,\)'),
    ((13 * 13, 2), 28, 'side must be 2 \\* window - 1 .* got 28'),
])
def test_tables_and_sides_of_no_square_window_are_refused(shape, side, message):
    with pytest.raises(ValueError, match=message):
        resize_relative_position_bias_table(torch.zeros(shape), side)
