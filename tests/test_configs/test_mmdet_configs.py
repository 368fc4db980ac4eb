"""Every mmdet config of ours trains through mmdet's Runner and is scored by COCO box/mask AP: our
backbone as configured, a lower loss, a checkpoint that loads back.

As for mmseg, image sizes are scaled down by 4 (1333 x 800 takes minutes and 19 GB here), and the
score threshold is 0, so that a model trained for two steps still outputs boxes to score.
"""
import pytest
from mmengine.config import Config

from .conftest import (CONFIGS, assert_ours_trained_and_saved, configs_of, drop_warmup,
                       fit_schedule, scale_image_sizes, shrink_dataloader, train_then_validate)


def fit_to_small_data(cfg: Config, coco_instances) -> None:
    """Points ``cfg`` at the small COCO set, one image a batch, image sizes scaled by 1/4,
    every box kept for scoring."""
    root = str(coco_instances) + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=1)
        loader.dataset.data_root = root
    scale_image_sizes(cfg, 1 / 4)
    cfg.model.test_cfg.rcnn.score_thr = 0.
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = root + 'annotations/instances_val2017.json'
    cfg.test_evaluator = cfg.val_evaluator


@pytest.mark.parametrize('name', configs_of('mmdet'))
def test_config_trains_our_backbone_lowers_the_loss_and_saves_it(name, coco_instances, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmdet' / name)
    fit_to_small_data(cfg, coco_instances)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    drop_warmup(cfg)
    fit_schedule(cfg, 2)
    run = train_then_validate(cfg, tmp_path)
    assert_ours_trained_and_saved(cfg, run)
    assert 0. <= run.metrics['coco/bbox_mAP'] <= 1.
    if 'mask-rcnn' in name:
        assert 0. <= run.metrics['coco/segm_mAP'] <= 1.
