"""A few iterations of the demo's pose model on the generated figures lower the loss."""
from pathlib import Path

from mmengine.config import Config
from mmengine.runner import Runner

from mmhrformer.synthetic import write_coco_keypoints

DEMO_CONFIG = (Path(__file__).resolve().parents[2] /
               'projects/demo/configs/td-hm_hrformer-mini_1xb32-20e_synthcoco-128x96.py')


def test_a_short_training_lowers_the_loss(tmp_path):
    root = str(write_coco_keypoints(str(tmp_path / 'coco'), {'train2017': 32, 'val2017': 2},
                                    max_people=1)) + '/'
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.batch_size = 16
    cfg.train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=100)
    cfg.param_scheduler = []
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.pop('visualization', None)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses, _ = runner.message_hub.get_scalar('train/loss').data
    assert len(losses) == 12
    assert losses[-3:].mean() < 0.9 * losses[:3].mean(), losses
