"""Our classes build from every toolbox's registry, and never shadow nor get shadowed silently."""
import importlib

import pytest
import torch
from mmengine.registry import DefaultScope

import mmhrformer
from mmhrformer.models import (ConvBasicBlock, DepthwiseConvFFN, HRFormer, HRFormerBlock,
                               HRFormerClsNeck, LocalWindowAttention, MemorySavingHRFormerBlock,
                               MultiResolutionFusion, MultiResolutionModule)

SMALL_ARCH = dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                  num_modules=[1, 1, 1], num_blocks=[1, 1, 1])
TOOLBOXES = ['mmpretrain', 'mmpose', 'mmseg', 'mmdet']


def toolbox_models(toolbox):
    return importlib.import_module(f'{toolbox}.registry').MODELS


def maps(*shapes):
    return [torch.randn(*shape) for shape in shapes]


#: name -> (class, config, inputs, output shapes): every class of ours that configs can name.
OURS = {
    'HRFormer': (HRFormer, dict(arch=SMALL_ARCH), maps((2, 3, 32, 32)),
                 [(2, 8, 8, 8), (2, 16, 4, 4), (2, 24, 2, 2), (2, 32, 1, 1)]),
    'HRFormerClsNeck': (HRFormerClsNeck, dict(in_channels=[8, 16], planes=[4, 8], out_channels=6),
                        [maps((2, 8, 8, 8), (2, 16, 4, 4))], [(2, 6)]),
    'HRFormerBlock': (HRFormerBlock, dict(channels=8, num_heads=2, window_size=3),
                      maps((2, 8, 5, 7)), [(2, 8, 5, 7)]),
    'MemorySavingHRFormerBlock': (MemorySavingHRFormerBlock,
                                  dict(channels=8, num_heads=2, window_size=3),
                                  maps((2, 8, 5, 7)), [(2, 8, 5, 7)]),
    'ConvBasicBlock': (ConvBasicBlock, dict(channels=8), maps((2, 8, 5, 7)), [(2, 8, 5, 7)]),
    'LocalWindowAttention': (LocalWindowAttention, dict(embed_dims=8, num_heads=2, window_size=3),
                             maps((2, 5, 7, 8)), [(2, 5, 7, 8)]),
    'DepthwiseConvFFN': (DepthwiseConvFFN, dict(in_channels=8, hidden_channels=16),
                         maps((2, 8, 5, 7)), [(2, 8, 5, 7)]),
    'MultiResolutionFusion': (MultiResolutionFusion, dict(channels=[8, 16]),
                              [maps((2, 8, 8, 8), (2, 16, 4, 4))], [(2, 8, 8, 8), (2, 16, 4, 4)]),
    'MultiResolutionModule': (
        MultiResolutionModule,
        dict(channels=[8, 16], block_cfgs=[[dict(type='ConvBasicBlock', channels=8)],
                                           [dict(type='HRFormerBlock', channels=16, num_heads=2)]]),
        [maps((2, 8, 8, 8), (2, 16, 4, 4))], [(2, 8, 8, 8), (2, 16, 4, 4)]),
}


def shapes_of(outputs):
    outputs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
    assert all(torch.isfinite(out).all() for out in outputs)
    return [tuple(out.shape) for out in outputs]


def assert_builds_a_working(name, registry, scope, type_name):
    """``registry`` under the default ``scope`` builds ``type=type_name`` into a module of our class
    ``name`` that runs on its inputs."""
    cls, cfg, inputs, out_shapes = OURS[name]
    with DefaultScope.overwrite_default_scope(scope):  # as the toolbox's Runner sets it
        module = registry.build(dict(type=type_name, **cfg))
    assert type(module) is cls
    assert shapes_of(module.eval()(*inputs)) == out_shapes


@pytest.mark.parametrize('scope', ['mmhrformer', *TOOLBOXES])
@pytest.mark.parametrize('name', OURS)
def test_scoped_name_builds_a_working_module_of_our_class_in_every_registry(name, scope):
    registry = mmhrformer.registry.MODELS if scope == 'mmhrformer' else toolbox_models(scope)
    with DefaultScope.overwrite_default_scope(scope):
        assert registry.get(f'mmhrformer.{name}') is OURS[name][0]
    assert_builds_a_working(name, registry, scope, f'mmhrformer.{name}')


def test_bare_names_in_our_registry_are_our_classes():
    for name, (cls, *_) in OURS.items():
        assert mmhrformer.registry.MODELS.get(name) is cls, name


@pytest.mark.parametrize('toolbox', ['mmpretrain', 'mmseg', 'mmdet'])
@pytest.mark.parametrize('name', ['HRFormer', 'HRFormerClsNeck'])
def test_bare_name_builds_ours_where_the_toolbox_has_none(name, toolbox):
    assert_builds_a_working(name, toolbox_models(toolbox), toolbox, name)


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
