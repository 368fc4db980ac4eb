"""Inputs the backbone may be handed: each gives the result of the plain case (within the
stated tolerance) or a ValueError that names what is wrong and what would be valid."""
import re

import pytest
import torch

from mmhrformer.checkpoint import convert_state_dict
from mmhrformer.models import HRFormer
from tests.test_checkpoint.official_reference import OfficialReference
from tests.test_checkpoint.test_convert_official import ARCHS

TINY_ARCH = dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                 num_modules=[1, 1, 1], num_blocks=[1, 1, 1])
#: Relative difference (norm of the difference / norm of the fp32 maps) allowed under autocast:
#: a few roundings to 8 (bf16) or 11 (fp16) significant bits along the network.
AUTOCAST_TOLERANCE = {torch.bfloat16: 3e-2, torch.float16: 5e-3}


def relative_difference(actual, expected):
    return max(((a.float() - e).norm() / e.norm()).item() for a, e in zip(actual, expected))


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return HRFormer(TINY_ARCH).eval()


@pytest.fixture(scope='module')
def image():
    return torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope='module')
def expected(model, image):
    with torch.no_grad():
        return model(image)


@pytest.mark.parametrize('shape', [(2, 1, 64, 48), (2, 4, 64, 48), (3, 64, 48), (0, 3, 64, 48),
                                   (1, 3, 0, 48)])
def test_wrong_shape_names_the_shape_and_the_channels(model, shape):
    message = f'B x 3 x H x W with B, H, W >= 1 (in_channels=3), got a tensor of shape {shape}'
    with pytest.raises(ValueError, match=re.escape(message)):
        model(torch.zeros(shape))


def test_single_channel_model_takes_single_channel_images():
    outputs = HRFormer(TINY_ARCH, in_channels=1).eval()(torch.randn(1, 1, 32, 32))
    assert [o.shape[1] for o in outputs] == TINY_ARCH['channels']


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.uint8])
def test_other_dtype_without_autocast_names_both_dtypes(model, image, dtype):
    with pytest.raises(ValueError, match=f'dtype {dtype}, its weights are torch.float32'):
        model(image.to(dtype))


@pytest.mark.parametrize('layout', ['channels_last', 'transposed', 'strided'])
def test_any_memory_layout_gives_the_contiguous_result(model, image, expected, layout):
    """Tolerance: none for strided views; 1e-5 relative for channels-last, whose convolutions
    sum in another order."""
    if layout == 'channels_last':
        x, tolerance = image.contiguous(memory_format=torch.channels_last), 1e-5
    elif layout == 'transposed':
        x, tolerance = image.transpose(2, 3).contiguous().transpose(2, 3), 0
    else:
        x, tolerance = torch.stack([image, image], -1)[..., 0], 0
    assert not x.is_contiguous()
    with torch.no_grad():
        assert relative_difference(model(x), expected) <= tolerance


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_cpu_autocast_stays_close_to_fp32(model, image, expected, dtype):
    with torch.no_grad(), torch.autocast('cpu', dtype=dtype):
        outputs = model(image)
    assert all(o.dtype == dtype for o in outputs)
    assert relative_difference(outputs, expected) < AUTOCAST_TOLERANCE[dtype]


def test_streams_smaller_than_a_window_match_the_official_model():
    """32x32: the 1/8, 1/16 and 1/32 streams are 4x4, 2x2 and 1x1, inside one 7x7 window."""
    reference = OfficialReference(**ARCHS['tiny'], fork='seg')
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    expected = reference.forward(x)
    ours = HRFormer('tiny', upsample_mode='nearest').eval()
    ours.load_state_dict(convert_state_dict(reference.state, 'official', backbone_only=True))
    with torch.no_grad():
        assert relative_difference(ours(x), expected) < 1e-5


@pytest.mark.parametrize('size', [16, 8])
def test_inputs_smaller_than_the_lowest_stride_keep_one_pixel_per_stream(model, size):
    """The official code and mmpose's port fail below 32x32 (their fusion assumes sizes divisible
    by 32); ours keeps ``ceil(H / stride)`` pixels and treats each image on its own."""
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        together, alone = model(images), model(images[1:])
    for stream, (both, one) in enumerate(zip(together, alone)):
        side = -(-size // 2**(stream + 2))
        assert both.shape == (2, TINY_ARCH['channels'][stream], side, side)
        assert torch.isfinite(both).all()
        assert torch.allclose(both[1:], one, rtol=1e-5, atol=1e-6)
