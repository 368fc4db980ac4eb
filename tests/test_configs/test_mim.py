"""`mim train` and `mim test` run our configs end to end, in a subprocess, as a user runs them."""
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import find_latest_checkpoint, load_checkpoint

from .conftest import CONFIGS, assert_backbone_is_ours_as_configured, full_precision_without_gpu

MIM = str(Path(sys.executable).with_name('mim'))


def mim(*args, options):
    command = [MIM, *args, '--cfg-options', *(f'{k}={v}' for k, v in options.items())]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def for_this_machine(config, tmp_path):
    """A config file that inherits ``config`` as a user without a GPU or internet would: random
    backbone weights instead of the published ones, and, where ``config`` trains in mixed
    precision (mmengine's ``AmpOptimWrapper`` needs a GPU), the same optimizer in float32."""
    cfg = Config.fromfile(config)
    full_precision_without_gpu(cfg)
    lines = [f'_base_ = [{str(config)!r}]', 'model = dict(backbone=dict(init_cfg=None))',
             f'optim_wrapper = dict(_delete_=True, **{cfg.optim_wrapper.to_dict()!r})']
    child = tmp_path / 'configs' / config.name
    child.parent.mkdir()
    child.write_text('\n'.join(lines) + '\n')
    return child


def small_loaders(root, batch_size=2):
    options = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.update({f'{loader}.batch_size': batch_size, f'{loader}.num_workers': 0,
                        f'{loader}.persistent_workers': False,
                        f'{loader}.dataset.data_root': root})
    return options


def logged_metric(log, key):
    """The last value of ``key`` that the run logged."""
    return float(re.findall(rf'{re.escape(key)}: (-?\d+\.\d+)', log)[-1])


def assert_mim_ran_the_toolbox_script_on(config, log, package, action):
    """mim ran the installed ``package``'s own ``tools/<action>.py`` on our config file itself,
    not on a file of the same name that it found elsewhere."""
    verb = {'train': 'Training', 'test': 'Testing'}[action]
    command = re.search(rf'^{verb} command is (.+)\. $', log, re.M).group(1).split()
    script = Path(importlib.import_module(package).__file__).parent / '.mim' / 'tools'
    assert command[1:3] == [str(script / f'{action}.py'), str(config)]


def assert_mim_trained_ours(config, work_dir, log, package, options):
    """``mim train`` ran the toolbox's script on ``config``, with the options, and saved a
    checkpoint that loads strictly into the model of that config: our backbone as configured."""
    assert_mim_ran_the_toolbox_script_on(config, log, package, 'train')
    cfg = Config.fromfile(work_dir / config.name)  # the config the run dumped, options applied
    ours = Config.fromfile(config).model.backbone
    assert cfg.model.backbone == dict(ours, init_cfg=None)
    assert cfg.train_dataloader.batch_size == options['train_dataloader.batch_size']
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, find_latest_checkpoint(str(work_dir)), strict=True)
    assert_backbone_is_ours_as_configured(cfg, revert_sync_batchnorm(model))


def predicted_keypoints(prefix):
    """(image id, keypoints, score) of each person in a COCO results file, in image order."""
    results = json.loads(Path(f'{prefix}.keypoints.json').read_text())
    return sorted((r['image_id'], r['keypoints'], r['score']) for r in results)


def test_mim_train_and_test_mmpose(coco_keypoints, tmp_path):
    config = for_this_machine(
        CONFIGS / 'mmpose/td-hm_hrformer-tiny_8xb32-210e_coco-256x192.py', tmp_path)
    root = str(coco_keypoints) + '/'
    ann_file = root + 'annotations/person_keypoints_val2017.json'
    options = {**small_loaders(root), 'val_dataloader.dataset.bbox_file': None,
               'test_dataloader.dataset.bbox_file': None, 'val_evaluator.ann_file': ann_file,
               'test_evaluator.ann_file': ann_file, 'train_cfg.max_epochs': 1,
               'val_evaluator.outfile_prefix': tmp_path / 'val',
               'test_evaluator.outfile_prefix': tmp_path / 'test'}
    log = mim('train', 'mmpose', str(config), '--work-dir', str(tmp_path), options=options)
    assert_mim_trained_ours(config, tmp_path, log, 'mmpose', options)
    checkpoint = tmp_path / 'epoch_1.pth'
    test_log = mim('test', 'mmpose', str(config), '--checkpoint', str(checkpoint),
                   '--work-dir', str(tmp_path / 'test'), options=options)
    assert_mim_ran_the_toolbox_script_on(config, test_log, 'mmpose', 'test')
    # The checkpoint gives in `mim test` the very predictions the trained model made at the end
    # of `mim train`, on the same images.
    validated = predicted_keypoints(tmp_path / 'val')
    tested = predicted_keypoints(tmp_path / 'test')
    assert tested and [r[0] for r in tested] == [r[0] for r in validated]
    for (_, keypoints, score), (_, want_keypoints, want_score) in zip(tested, validated):
        np.testing.assert_allclose(keypoints, want_keypoints, atol=1e-3)
        assert score == pytest.approx(want_score, abs=1e-5)
    assert logged_metric(test_log, 'coco/AP') == pytest.approx(logged_metric(log, 'coco/AP'))


def test_mim_train_mmseg(segmentation_roots, tmp_path):
    config = for_this_machine(
        CONFIGS / 'mmseg/fcn_hrformer-small_4xb4-80k_pascal-context-59-480x480.py', tmp_path)
    options = {**small_loaders(str(segmentation_roots['pascal_context_59'])),
               'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2}
    log = mim('train', 'mmseg', str(config), '--work-dir', str(tmp_path), options=options)
    assert_mim_trained_ours(config, tmp_path, log, 'mmseg', options)
    assert 0. <= logged_metric(log, 'mIoU') <= 100.


def test_mim_train_mmpretrain(imagenet, tmp_path):
    config = for_this_machine(CONFIGS / 'mmpretrain/hrformer-tiny_16xb64_in1k.py', tmp_path)
    # The cosine decay begins after 20 epochs of warm-up: in a 1-epoch run it begins at once.
    options = {**small_loaders(str(imagenet), batch_size=3), 'train_cfg.max_epochs': 1,
               'param_scheduler.1.begin': 0}
    log = mim('train', 'mmpretrain', str(config), '--work-dir', str(tmp_path), options=options)
    assert_mim_trained_ours(config, tmp_path, log, 'mmpretrain', options)
    assert 0. <= logged_metric(log, 'accuracy/top1') <= 100.
