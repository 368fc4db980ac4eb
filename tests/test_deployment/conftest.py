"""Checkpoints of randomly initialised models of our configs, written as a Runner writes them."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, DefaultScope

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'

#: One config per toolbox, the smallest of each.
CONFIG_OF = {
    'pose': CONFIGS / 'mmpose/td-hm_hrformer-tiny_8xb32-210e_coco-256x192.py',
    'seg': CONFIGS / 'mmseg/fcn_hrformer-small_4xb4-80k_pascal-context-59-480x480.py',
    'cls': CONFIGS / 'mmpretrain/hrformer-tiny_16xb64_in1k.py',
}


def write_random_checkpoint(config: Path, path: Path, seed: int = 0) -> Path:
    """Saves ``{'state_dict': ..., 'meta': {'dataset_meta': ...}}`` of the config's model after
    its own weight initialisation (random relative position biases included), without the
    pretrained backbone file that the config may name. ``dataset_meta`` holds the class names
    where the training set's class lists them (a Runner saves its training set's metainfo)."""
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    with DATASETS.switch_scope_and_registry(cfg.default_scope) as datasets:
        metainfo = datasets.get(cfg.train_dataloader.dataset.type).METAINFO
    model.init_weights()
    meta = {'dataset_meta': dict(metainfo)} if 'classes' in metainfo else {}
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return path


@pytest.fixture(scope='session')
def random_checkpoints(tmp_path_factory):
    """task ('pose', 'seg', 'cls') -> (config, checkpoint file)."""
    folder = tmp_path_factory.mktemp('checkpoints')
    return {task: (config, write_random_checkpoint(config, folder / f'{task}.pth'))
            for task, config in CONFIG_OF.items()}
