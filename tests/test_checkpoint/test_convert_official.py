"""Official HRFormer checkpoints (random, perturbed) give the official outputs in our models."""
from pathlib import Path

import pytest
import torch

from mmhrformer.checkpoint import convert_state_dict
from mmhrformer.checkpoint.convert import OFFICIAL_SETTINGS, convert_checkpoint
from mmhrformer.models import HRFormer

from .official_reference import OfficialReference

ARCHS = {'tiny': dict(channels=[18, 36, 72, 144], num_heads=[1, 2, 4, 8], num_modules=[1, 3, 2]),
         'small': dict(channels=[32, 64, 128, 256], num_heads=[1, 2, 4, 8], num_modules=[1, 4, 2])}


def relative_difference(ours, theirs):
    return ((ours - theirs).norm() / theirs.norm()).item()


def build_classifier(arch):
    """Our mmpretrain ImageNet classifier, exactly as configs/mmpretrain builds it."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    root = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(root / f'configs/mmpretrain/hrformer-{arch}_16xb64_in1k.py')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):  # as the Runner sets it
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('arch', ['tiny', 'small'])
def test_official_classifier_gives_the_official_logits(arch, tmp_path):
    reference = OfficialReference(**ARCHS[arch], fork='cls')
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    reference.forward(x)  # creates the official checkpoint's keys with random values
    torch.save({'model': reference.state}, tmp_path / 'official.pth')

    settings = convert_checkpoint(str(tmp_path / 'official.pth'), str(tmp_path / 'ours.pth'),
                                  'official')
    assert settings == OFFICIAL_SETTINGS['cls']
    model = build_classifier(arch).eval()
    state = torch.load(tmp_path / 'ours.pth', weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        expected = reference.forward(x)
        actual = model(x, mode='tensor')
    assert relative_difference(actual, expected) < 1e-4


def build_pose_model(settings):
    from mmpose.registry import MODELS
    return MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='mmhrformer.HRFormer', arch='small', **settings),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=17, deconv_out_channels=None)))


@pytest.mark.parametrize('height,width', [(256, 192), (224, 160)])
def test_official_pose_model_gives_the_official_heatmaps(height, width, tmp_path):
    """The official pose fork never adds its position bias table: the converter drops the tables
    and asks for ``with_rpe=False``. At 224x160 the 56x40 stream is centre-padded."""
    reference = OfficialReference(**ARCHS['small'], fork='pose')
    x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(2))
    expected = reference.forward(x)
    state = {k if k.startswith('keypoint_head') else f'backbone.{k}': v
             for k, v in reference.state.items()}
    torch.save({'state_dict': state}, tmp_path / 'official_pose.pth')

    settings = convert_checkpoint(str(tmp_path / 'official_pose.pth'), str(tmp_path / 'ours.pth'),
                                  'official')
    assert settings == OFFICIAL_SETTINGS['pose']
    model = build_pose_model(settings).eval()
    model.load_state_dict(torch.load(tmp_path / 'ours.pth')['state_dict'], strict=True)
    with torch.no_grad():
        assert relative_difference(model(x, None, mode='tensor'), expected) < 1e-4


def test_backbone_only_drops_the_head():
    reference = OfficialReference(**ARCHS['tiny'], fork='cls')
    reference.forward(torch.randn(1, 3, 64, 64))
    backbone = convert_state_dict(reference.state, 'official', backbone_only=True)
    HRFormer('tiny', upsample_mode='nearest').load_state_dict(backbone, strict=True)


def test_unmappable_official_head_keys_are_listed():
    reference = OfficialReference(**ARCHS['tiny'], fork='cls')
    reference.forward(torch.randn(1, 3, 64, 64))
    state = {f'backbone.{k}': v for k, v in reference.state.items()
             if not k.startswith(('incre', 'downsamp', 'final', 'classifier'))}
    state['decode_head.conv_seg.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"1 head keys .* \['decode_head.conv_seg.weight'\]"):
        convert_state_dict(state, 'official')
