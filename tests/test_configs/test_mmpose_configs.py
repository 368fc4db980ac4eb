"""Every mmpose config of ours trains through mmpose's Runner and is scored by COCO keypoint AP."""
import pytest
from mmengine.config import Config

from .conftest import CONFIGS, configs_of, shrink_dataloader, train_then_validate


@pytest.mark.parametrize('name', configs_of('mmpose'))
def test_config_trains_two_iterations_and_validates_with_coco_ap(name, coco_keypoints, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmpose' / name)
    root = str(coco_keypoints) + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader)
        loader.dataset.data_root = root
    cfg.val_dataloader.dataset.bbox_file = None  # ground-truth boxes: no detector results here
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = root + 'annotations/person_keypoints_val2017.json'
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)  # 4 people, batch 2
    metrics = train_then_validate(cfg, tmp_path)
    assert 0. <= metrics['coco/AP'] <= 1.
