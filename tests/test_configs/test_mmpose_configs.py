"""Every mmpose config of ours trains through mmpose's Runner and is scored by COCO keypoint AP:
the Runner's model holds our backbone as configured, two steps lower the loss, and the checkpoint
of the run loads back into the same state."""
import pytest
from mmengine.config import Config

from .conftest import (CONFIGS, assert_ours_trained_and_saved, configs_of, shrink_dataloader,
                       train_then_validate)


def fit_to_small_data(cfg: Config, coco_keypoints) -> None:
    """Points ``cfg`` at the small COCO set, 4 people a batch, scored on ground-truth boxes."""
    root = str(coco_keypoints) + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=4)
        loader.dataset.data_root = root
    cfg.val_dataloader.dataset.bbox_file = None  # ground-truth boxes: no detector results here
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = root + 'annotations/person_keypoints_val2017.json'
    cfg.test_evaluator = cfg.val_evaluator


@pytest.mark.parametrize('name', configs_of('mmpose'))
def test_config_trains_our_backbone_lowers_the_loss_and_saves_it(name, coco_keypoints, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmpose' / name)
    fit_to_small_data(cfg, coco_keypoints)
    # One step on all 4 people at the config's first learning rate (its warm-up's 1/1000):
    # AdamW's first step moves each weight against the sign of its gradient, so the loss on
    # that batch must fall. (Steps at the full rate may raise a fresh model's heatmap loss.)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    run = train_then_validate(cfg, tmp_path)
    assert_ours_trained_and_saved(cfg, run)
    assert 0. <= run.metrics['coco/AP'] <= 1.
