"""Configs whose backbone does not fit its neck or head fail with the config keys named: at
build time for the backbone's own arguments, when the Runner starts (BackboneOutputCheckHook,
before weights are loaded and before the first batch) for what the backbone and the head or neck
say about each other."""
import importlib
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmhrformer.engine import check_backbone_outputs
from mmhrformer.models import HRFormer
from .conftest import CONFIG

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
POSE = CONFIGS / 'mmpose/td-hm_hrformer-small_8xb32-210e_coco-256x192.py'
CLASSIFIER = CONFIGS / 'mmpretrain/hrformer-tiny_16xb64_in1k.py'
SEGMENTER = CONFIGS / 'mmseg/fcn_hrformer-small_4xb4-80k_pascal-context-59-480x480.py'
DETECTOR = CONFIGS / 'mmdet/faster-rcnn_hrformer-small-hrfpn_1x_coco.py'


def build_model(config: Path, toolbox: str, **changes):
    """The model of ``config``, built by ``toolbox``'s registry, after ``cfg.merge_from_dict``."""
    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(changes)
    init_default_scope(toolbox)
    return importlib.import_module(f'{toolbox}.registry').MODELS.build(cfg.model)


def test_unknown_arch_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"arch='huge' is not one of \['b', 'base', 's', "
                                         r"'small', 't', 'tiny'\]"):
        HRFormer('huge')


@pytest.mark.parametrize('config,toolbox', [(POSE, 'mmpose'), (CLASSIFIER, 'mmpretrain'),
                                            (SEGMENTER, 'mmseg'), (DETECTOR, 'mmdet')],
                         ids=lambda value: getattr(value, 'stem', value))
def test_our_configs_pass_the_check(config, toolbox):
    check_backbone_outputs(build_model(config, toolbox))


def test_pose_head_wider_than_the_backbone_stream():
    model = build_model(POSE, 'mmpose', **{'model.head.in_channels': 64})
    with pytest.raises(ValueError) as error:
        check_backbone_outputs(model)
    assert ('model.head (HeatmapHead) cannot take what model.backbone returns: model.backbone '
            'returns 1 map(s) with channels (32,) (model.backbone.out_indices=(0,)), while '
            'model.head.in_channels=64') in str(error.value)


def test_classifier_neck_made_for_another_arch():
    model = build_model(CLASSIFIER, 'mmpretrain',
                        **{'model.neck.in_channels': [32, 64, 128, 256]})  # HRFormer-S's
    with pytest.raises(ValueError, match=r'model.neck \(HRFormerClsNeck\) .* channels '
                                         r'\(18, 36, 72, 144\) .* model.neck.in_channels='
                                         r'\(32, 64, 128, 256\)'):
        check_backbone_outputs(model)


def test_classifier_head_narrower_than_the_neck():
    model = build_model(CLASSIFIER, 'mmpretrain', **{'model.head.in_channels': 1024})
    with pytest.raises(ValueError, match=r'model.head \(LinearClsHead\) cannot take what '
                                         r'model.neck returns: .* channels \(2048,\), while '
                                         r'model.head.in_channels=1024'):
        check_backbone_outputs(model)


def test_segmentation_head_reading_streams_the_backbone_does_not_return():
    model = build_model(SEGMENTER, 'mmseg', **{'model.backbone.out_indices': (0, )})
    with pytest.raises(ValueError, match=r'model.backbone.out_indices=\(0,\)\), while '
                                         r'.*model.decode_head.in_index=\(0, 1, 2, 3\)'):
        check_backbone_outputs(model)


def test_runner_with_the_hook_stops_before_loading_or_training(coco_root, tmp_path):
    cfg = Config.fromfile(str(CONFIG), import_custom_modules=False)
    cfg.merge_from_dict({
        'custom_imports.imports': ['mmhrformer'],
        'custom_hooks': [dict(type='BackboneOutputCheckHook')],
        'model.head.in_channels': 16,
        'model.backbone.norm_cfg.type': 'BN',
        'train_dataloader.dataset.data_root': f'{coco_root}/',
        # never read: the check comes first
        'load_from': str(tmp_path / 'missing.pth'),
        'work_dir': str(tmp_path / 'work')})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'channels \(8,\) .* model.head.in_channels=16'):
        runner.train()
    assert runner.iter == 0
