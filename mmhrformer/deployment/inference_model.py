"""The model of a toolbox config with trained weights, ready for inference or export."""
from pathlib import Path
from typing import Union

import torch.nn as nn
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import load_checkpoint

TOOLBOX_SCOPES = ('mmpretrain', 'mmpose', 'mmseg', 'mmdet')


def build_inference_model(config: Union[str, Path, Config], checkpoint: Union[str, Path]
                          ) -> nn.Module:
    """Builds ``config.model`` in the toolbox of ``config.default_scope``, loads ``checkpoint``
    into it (every key must match) and returns it in evaluation mode on the CPU, with SyncBN
    turned into BatchNorm (one process, no distributed group).

    The weights come from the checkpoint alone: the backbone's ``init_cfg`` (a pretrained file)
    is not read.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(str(config))
    scope = cfg.get('default_scope')
    if scope not in TOOLBOX_SCOPES:
        raise ValueError(f'{getattr(cfg, "filename", config)}: default_scope={scope!r}; expected '
                         f'the config of one of {TOOLBOX_SCOPES}')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, str(checkpoint), map_location='cpu', strict=True, logger='silent')
    return revert_sync_batchnorm(model).eval()
