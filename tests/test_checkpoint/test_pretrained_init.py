"""A config of ours in each toolbox, its backbone's ``init_cfg`` naming a published file as it is
downloaded (stand-ins with random weights, :mod:`.pretrained_files`): the toolbox's Runner loads
every backbone key, with the values the converter gives, and trains two iterations.

A small variant (NANO) and the configs' data pipelines on the generated data sets of
:mod:`mmhrformer.synthetic` (the fixtures of ``tests/test_configs``); mmseg's and mmdet's image
sizes scaled down by 4 as there.
"""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmhrformer.checkpoint import convert_state_dict
from tests.test_configs.conftest import (CONFIGS, full_precision_without_gpu, scale_image_sizes,
                                         shrink_dataloader)

from .pretrained_files import NANO, mmpose_state, official_state, save


class LoadRecorder(Hook):
    """The backbone's state when training starts (after ``init_weights``) and each step's loss."""

    def before_train(self, runner):
        self.loaded = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(outputs['loss'].item())


def config(toolbox: str, pattern: str) -> Config:
    """The one config of ``configs/<toolbox>`` whose name matches ``pattern``."""
    found = sorted((CONFIGS / toolbox).glob(pattern))
    assert len(found) == 1, f'{pattern} matches {found} in configs/{toolbox}'
    return Config.fromfile(found[0])


def train_two_iterations(cfg: Config, checkpoint, work_dir) -> LoadRecorder:
    """Runs ``cfg`` for two iterations with NANO initialised from ``checkpoint``, no validation."""
    from mmengine.runner import Runner
    cfg.model.backbone.update(arch=NANO, init_cfg=dict(type='Pretrained',
                                                       checkpoint=str(checkpoint)))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator', 'param_scheduler'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    full_precision_without_gpu(cfg)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.update(work_dir=str(work_dir), launcher='none', randomness=dict(seed=0))
    recorder = LoadRecorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    assert runner.iter == 2 and len(recorder.losses) == 2
    assert all(math.isfinite(loss) for loss in recorder.losses), recorder.losses
    return recorder


def assert_loaded(recorder: LoadRecorder, file_state: dict, layout: str, out_indices) -> None:
    """Every backbone key holds the converter's value for it; the converted keys the model has
    not are the last fusion's paths to streams outside ``out_indices``, and nothing else."""
    expected = convert_state_dict(file_state, layout, backbone_only=True)
    assert set(recorder.loaded) <= set(expected)
    for key, value in recorder.loaded.items():
        assert torch.equal(value, expected[key].to(value.dtype)), key
    left = {key.split('.fusion.paths.')[1].split('.')[0] for key in set(expected)
            - set(recorder.loaded)}
    assert left == {str(i) for i in range(4)} - {str(i) for i in out_indices}


def test_mmpretrain_classifier_starts_from_the_official_imagenet_file(imagenet, tmp_path):
    cfg = config('mmpretrain', 'hrformer-tiny_*in1k.py')
    shrink_dataloader(cfg.train_dataloader)
    cfg.train_dataloader.dataset.data_root = str(imagenet)
    cfg.model.neck.in_channels = NANO['channels']
    state = official_state()
    run = train_two_iterations(cfg, save(state, tmp_path / 'hrt_tiny.pth'), tmp_path / 'work')
    assert_loaded(run, state, 'official', range(4))


@pytest.mark.parametrize('layout', ['mmpose', 'official'])
def test_mmpose_pose_model_starts_from_a_pretrain_file(layout, coco_keypoints, tmp_path):
    """The pose model returns stream 0 only: the file's paths to streams 1-3 are not loaded."""
    cfg = config('mmpose', 'td-hm_hrformer-small_*coco-256x192.py')
    shrink_dataloader(cfg.train_dataloader)
    cfg.train_dataloader.dataset.data_root = str(coco_keypoints) + '/'
    cfg.model.head.in_channels = NANO['channels'][0]
    state = mmpose_state() if layout == 'mmpose' else official_state()
    wrapper = 'state_dict' if layout == 'mmpose' else 'model'
    run = train_two_iterations(cfg, save(state, tmp_path / 'pretrain.pth', wrapper),
                               tmp_path / 'work')
    assert_loaded(run, state, layout, (0, ))


def test_mmseg_segmentor_starts_from_the_official_imagenet_file(segmentation_roots, tmp_path):
    cfg = config('mmseg', 'fcn_hrformer-small_*pascal-context-59-*.py')
    shrink_dataloader(cfg.train_dataloader)
    cfg.train_dataloader.dataset.data_root = str(segmentation_roots['pascal_context_59'])
    scale_image_sizes(cfg, 1 / 4)
    cfg.model.decode_head.update(in_channels=NANO['channels'], channels=sum(NANO['channels']))
    state = official_state()
    run = train_two_iterations(cfg, save(state, tmp_path / 'hrt_small.pth'), tmp_path / 'work')
    assert_loaded(run, state, 'official', range(4))


def test_mmdet_detector_starts_from_the_official_imagenet_file(coco_instances, tmp_path):
    cfg = config('mmdet', 'faster-rcnn_hrformer-small-*coco.py')
    shrink_dataloader(cfg.train_dataloader, batch_size=1)
    cfg.train_dataloader.dataset.data_root = str(coco_instances) + '/'
    scale_image_sizes(cfg, 1 / 4)
    cfg.model.neck.in_channels = NANO['channels']
    state = official_state()
    run = train_two_iterations(cfg, save(state, tmp_path / 'hrt_small.pth'), tmp_path / 'work')
    assert_loaded(run, state, 'official', range(4))
