"""`mim train` and `mim test` run our configs end to end, in a subprocess, as a user runs them."""
import subprocess
import sys
from pathlib import Path

from .conftest import CONFIGS

MIM = str(Path(sys.executable).with_name('mim'))


def mim(*args, options):
    command = [MIM, *args, '--cfg-options', *(f'{k}={v}' for k, v in options.items())]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def small_loaders(root, batch_size=2):
    options = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.update({f'{loader}.batch_size': batch_size, f'{loader}.num_workers': 0,
                        f'{loader}.persistent_workers': False,
                        f'{loader}.dataset.data_root': root})
    return options


def test_mim_train_and_test_mmpose(coco_keypoints, tmp_path):
    config = CONFIGS / 'mmpose/td-hm_hrformer-tiny_8xb32-210e_coco-256x192.py'
    root = str(coco_keypoints) + '/'
    ann_file = root + 'annotations/person_keypoints_val2017.json'
    options = {**small_loaders(root), 'val_dataloader.dataset.bbox_file': None,
               'test_dataloader.dataset.bbox_file': None, 'val_evaluator.ann_file': ann_file,
               'test_evaluator.ann_file': ann_file, 'train_cfg.max_epochs': 1}
    log = mim('train', 'mmpose', str(config), '--work-dir', str(tmp_path), options=options)
    assert 'coco/AP' in log
    log = mim('test', 'mmpose', str(config), '--checkpoint', str(tmp_path / 'epoch_1.pth'),
              '--work-dir', str(tmp_path / 'test'), options=options)
    assert 'coco/AP' in log


def test_mim_train_mmseg(segmentation_roots, tmp_path):
    config = CONFIGS / 'mmseg/fcn_hrformer-small_4xb4-80k_pascal-context-59-480x480.py'
    options = {**small_loaders(str(segmentation_roots['pascal_context_59'])),
               'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2}
    log = mim('train', 'mmseg', str(config), '--work-dir', str(tmp_path), options=options)
    assert 'mIoU' in log


def test_mim_train_mmpretrain(imagenet, tmp_path):
    config = CONFIGS / 'mmpretrain/hrformer-tiny_16xb64_in1k.py'
    # The cosine decay begins after 20 epochs of warm-up: in a 1-epoch run it begins at once.
    options = {**small_loaders(str(imagenet), batch_size=3), 'train_cfg.max_epochs': 1,
               'param_scheduler.1.begin': 0}
    log = mim('train', 'mmpretrain', str(config), '--work-dir', str(tmp_path), options=options)
    assert 'accuracy/top1' in log
