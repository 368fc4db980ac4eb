"""A few iterations of a demo's model on its generated data lower the loss."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmhrformer.synthetic import write_coco_keypoints
from mmhrformer.synthetic.segmentation import write_segmentation_set

DEMO_CONFIGS = Path(__file__).resolve().parents[2] / 'projects/demo/configs'

#: demo -> (config, writer of 32 training images under a folder, returning the data root)
DEMOS = {
    'pose': ('td-hm_hrformer-mini_1xb32-20e_synthcoco-128x96.py',
             lambda folder: str(write_coco_keypoints(folder, {'train2017': 32, 'val2017': 2},
                                                     max_people=1)) + '/'),
    'seg': ('fcn_hrformer-mini_1xb16-10e_synthcontext-64x64.py',
            lambda folder: str(write_segmentation_set(folder, 'pascal_context_59',
                                                      {'train': 32}, size=(64, 64)))),
}


@pytest.mark.parametrize('demo', sorted(DEMOS))
def test_a_short_training_lowers_the_loss(demo, tmp_path):
    config, write = DEMOS[demo]
    cfg = Config.fromfile(DEMO_CONFIGS / config)
    cfg.train_dataloader.dataset.data_root = write(str(tmp_path / 'data'))
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
