"""Our classes build from every toolbox's registry, and never shadow nor get shadowed silently."""
import importlib

import pytest
from mmengine.registry import DefaultScope

import mmhrformer
from mmhrformer.models import HRFormer

SMALL_ARCH = dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                  num_modules=[1, 1, 1], num_blocks=[1, 1, 1])
TOOLBOXES = ['mmpretrain', 'mmpose', 'mmseg', 'mmdet']


def toolbox_models(toolbox):
    return importlib.import_module(f'{toolbox}.registry').MODELS


@pytest.mark.parametrize('toolbox', TOOLBOXES)
def test_scoped_name_builds_ours_in_every_toolbox(toolbox):
    with DefaultScope.overwrite_default_scope(toolbox):  # as the toolbox's Runner sets it
        model = toolbox_models(toolbox).build(dict(type='mmhrformer.HRFormer', arch=SMALL_ARCH))
    assert type(model) is HRFormer


@pytest.mark.parametrize('toolbox', ['mmpretrain', 'mmseg', 'mmdet'])
def test_bare_name_builds_ours_where_the_toolbox_has_none(toolbox):
    with DefaultScope.overwrite_default_scope(toolbox):
        model = toolbox_models(toolbox).build(dict(type='HRFormer', arch=SMALL_ARCH))
    assert type(model) is HRFormer


def test_bare_name_in_mmpose_keeps_meaning_mmposes_own():
    from mmpose.models.backbones import HRFormer as MMPoseHRFormer
    assert toolbox_models('mmpose').get('HRFormer') is MMPoseHRFormer


def test_a_toolbox_class_of_the_same_name_is_kept_and_reported(monkeypatch):
    from mmengine.registry import Registry

    from mmhrformer import toolbox_aliases

    class TheirHRFormer:
        pass

    theirs = Registry('model')
    theirs.register_module(name='HRFormer', module=TheirHRFormer)
    monkeypatch.setattr(toolbox_aliases, 'toolbox_model_registry',
                        lambda toolbox: theirs if toolbox == 'mmpretrain' else None)
    with pytest.warns(UserWarning, match="mmpretrain already registers a 'HRFormer'"):
        toolbox_aliases.register_bare_names({'HRFormer': HRFormer})
    assert theirs.get('HRFormer') is TheirHRFormer


def test_blocks_are_registered_in_our_scope():
    for name in ['HRFormerBlock', 'ConvBasicBlock', 'LocalWindowAttention', 'DepthwiseConvFFN',
                 'MultiResolutionFusion', 'MultiResolutionModule']:
        assert mmhrformer.registry.MODELS.get(name) is not None, name
