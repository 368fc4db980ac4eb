"""``init_cfg=dict(type='Pretrained', checkpoint=...)`` for our HRFormer: a published checkpoint,
as it is downloaded, loaded strictly into the backbone.

The file is read by mmengine's ``CheckpointLoader`` (paths, URLs and mmengine's schemes), which
importing ``mmhrformer`` routes through :mod:`.safe_loading` (``weights_only`` kept on). Then:

1. the backbone's keys are selected: ``prefix`` if given, else those under ``backbone.`` if any
   (a toolbox model), else all but the official classifier's head (``incre_modules``,
   ``downsamp_modules``, ``final_layer``, ``classifier``), which our backbone does not have;
2. the key layout is detected from the attention and FFN names (official, mmpose, or ours) and
   converted key by key (:mod:`.convert`; a key it cannot map is an error that lists it);
3. it is fitted to the model: relative position bias tables are resized where the window differs
   (:mod:`.relative_position_bias`); the last fusion's paths to streams the model does not return
   (``out_indices``, as the pose models) and, for a model built with ``with_rpe=False``, the bias
   tables are dropped, saying so;
4. whatever is then missing or left over, or has another shape, is an error that lists the keys.

The official forks computed with settings that are not weights (:data:`.convert.OFFICIAL_SETTINGS`:
the classifier upsampled by ``'nearest'`` in the fusion). An ImageNet file is an initialisation,
which the official pose fork itself fine-tuned with bilinear upsampling: the settings are reported
in the log, and the model's own are kept.
"""
import logging
import re
from collections import Counter
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

from .convert import (OFFICIAL_CLS_HEAD, OFFICIAL_SETTINGS, convert_mmpose, convert_official,
                      guess_official_fork)
from .relative_position_bias import resize_relative_position_bias_table, table_side

StateDict = Dict[str, torch.Tensor]

#: A key whose presence tells each layout (``attn`` and FFN names of one block).
LAYOUT_SIGNS = {
    'official': re.compile(r'\.attn\.attn\.[qkv]_proj\.|\.mlp\.dw3x3\.'),
    'mmpose': re.compile(r'\.attn\.attn\.qkv\.|\.ffn\.dw3x3\.'),
    'mmhrformer': re.compile(r'^stem\.\d\.|\.fusion\.paths\.|\.ffn\.dwconv\.'),
}
_CONVERTERS = {'official': convert_official, 'mmpose': convert_mmpose, 'mmhrformer': dict}

_TABLE = 'relative_position_bias_table'


class CheckpointKeysError(KeyError):
    """The checkpoint's keys do not fit the model; the message lists them."""

    def __str__(self) -> str:  # KeyError's own shows the message's repr
        return str(self.args[0])


def pretrained_cfg(init_cfg) -> Optional[dict]:
    """The ``dict(type='Pretrained', ...)`` of ``init_cfg`` (a dict or a list of them), or None.
    With it the other entries have nothing left to initialise: every weight is loaded."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    found = [cfg for cfg in cfgs if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained']
    if len(found) > 1:
        raise ValueError(f'init_cfg names {len(found)} Pretrained checkpoints, at most one can '
                         f'initialise the backbone: {found}')
    return found[0] if found else None


def read_state_dict(checkpoint: str, map_location='cpu') -> StateDict:
    """The state dict of a checkpoint file or URL, unwrapped from ``state_dict`` (mmengine) or
    ``model`` (the official trainer), without DataParallel's ``module.`` prefix."""
    state = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location,
                                             logger='current')
    for wrapper in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise TypeError(f'{checkpoint} holds a {type(state).__name__}, not a state dict')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def select_backbone(state: StateDict, prefix: Optional[str], checkpoint: str) -> StateDict:
    """The backbone's keys without their prefix (see the module's step 1)."""
    if prefix is None and any(key.startswith('backbone.') for key in state):
        prefix = 'backbone.'
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        selected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not selected:
            raise CheckpointKeysError(f'{checkpoint} has no key under prefix={prefix!r}; its '
                                      f'first keys are {sorted(state)[:5]}')
        left_out = f'{len(state) - len(selected)} keys outside {prefix!r}'
    else:
        selected = {k: v for k, v in state.items() if k.split('.')[0] not in OFFICIAL_CLS_HEAD}
        left_out = (f'the official classifier head ({len(state) - len(selected)} keys of '
                    f'{", ".join(OFFICIAL_CLS_HEAD)})')
    if len(selected) < len(state):
        print_log(f'{checkpoint}: {left_out} not part of the backbone, not loaded',
                  logger='current')
    return selected


def detect_layout(state: StateDict, checkpoint: str) -> str:
    """``'official'``, ``'mmpose'`` or ``'mmhrformer'``, from the names of the blocks."""
    found = [name for name, sign in LAYOUT_SIGNS.items() if any(map(sign.search, state))]
    if len(found) != 1:
        raise CheckpointKeysError(
            f'{checkpoint}: cannot tell the key layout of the HRFormer backbone (matches '
            f'{found or "none"} of {sorted(LAYOUT_SIGNS)}: official keys read '
            "'...attn.attn.q_proj...', mmpose's '...attn.attn.qkv...', ours '...ffn.dwconv...'); "
            f'its first keys are {sorted(state)[:5]}')
    return found[0]


def convert_layout(state: StateDict, layout: str, checkpoint: str) -> StateDict:
    """The backbone keys in our layout, or an error naming the file and the unmapped keys."""
    try:
        return _CONVERTERS[layout](state)
    except KeyError as error:
        raise CheckpointKeysError(f'{checkpoint} ({layout} layout): {error.args[0]}') from None


def fit_to_model(state: StateDict, model: nn.Module, checkpoint: str) -> StateDict:
    """``state`` made to fit ``model.state_dict()`` (the module's steps 3 and 4)."""
    wanted = model.state_dict()
    state = _drop_unused_fusion_paths(state, wanted, getattr(model, 'out_indices', None))
    state = _fit_bias_tables(state, wanted)
    missing = sorted(set(wanted) - set(state))
    unexpected = sorted(set(state) - set(wanted))
    mismatched = sorted(f'{k}: {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model'
                        for k, v in wanted.items() if k in state and state[k].shape != v.shape)
    if missing or unexpected or mismatched:
        raise CheckpointKeysError(
            f'{checkpoint} does not fit the {type(model).__name__} backbone (keys after '
            f'conversion to our layout): missing {missing}; unexpected {unexpected}; of another '
            f'shape {mismatched}')
    return state


def pretrained_backbone_state(model: nn.Module, checkpoint: str, prefix: Optional[str] = None,
                              map_location='cpu') -> Tuple[StateDict, str]:
    """Reads, converts and fits ``checkpoint`` for ``model``: (its state dict, the layout)."""
    state = read_state_dict(checkpoint, map_location)
    backbone = select_backbone(state, prefix, checkpoint)
    layout = detect_layout(backbone, checkpoint)
    if layout == 'official':
        fork = guess_official_fork(state)
        print_log(f'{checkpoint}: the official {fork} fork, which ran with '
                  f'{OFFICIAL_SETTINGS[fork]}; the model keeps its own settings', logger='current')
    return fit_to_model(convert_layout(backbone, layout, checkpoint), model, checkpoint), layout


def load_pretrained_backbone(model: nn.Module, checkpoint: str, prefix: Optional[str] = None,
                             map_location='cpu') -> None:
    """Loads ``checkpoint`` (path or URL) into the backbone ``model``, strictly, and logs it."""
    state, layout = pretrained_backbone_state(model, checkpoint, prefix, map_location)
    model.load_state_dict(state, strict=True)
    print_log(f'{type(model).__name__}: loaded all {len(state)} backbone keys from {checkpoint} '
              f'({layout} layout)', logger='current')


def _drop_unused_fusion_paths(state: StateDict, wanted: StateDict,
                              out_indices: Optional[Tuple[int, ...]]) -> StateDict:
    """Without the last fusion's paths to the streams that a model built with ``out_indices``
    does not compute (the file's model returned all four)."""
    if out_indices is None:
        return state
    streams = [re.match(r'^stage4\.\d+\.fusion\.paths\.(\d+)\.', k) for k in state]
    unused = {k for k, stream in zip(state, streams)
              if k not in wanted and stream and int(stream[1]) not in out_indices}
    if unused:
        print_log(f'{len(unused)} keys of the last fusion\'s paths to streams not in '
                  f'out_indices={tuple(out_indices)} are not used by the model and were not '
                  'loaded', logger='current')
    return {k: v for k, v in state.items() if k not in unused}


def _fit_bias_tables(state: StateDict, wanted: StateDict) -> StateDict:
    """Tables resized to the model's windows; without them if the model has none."""
    fitted = dict(state)
    tables = [k for k in state if k.endswith(_TABLE)]
    dropped = [k for k in tables if k not in wanted and k.replace(_TABLE, 'qkv.weight') in wanted]
    for key in dropped:
        del fitted[key]
    if dropped:
        print_log(f'the model has no relative position bias (with_rpe=False): the {len(dropped)} '
                  'tables of the file were not loaded', logger='current', level=logging.WARNING)
    resized = Counter()
    for key in tables:
        if key in wanted and state[key].shape != wanted[key].shape:
            _check_same_heads(key, state[key], wanted[key])
            old, new = table_side(state[key], key), table_side(wanted[key], key)
            fitted[key] = resize_relative_position_bias_table(state[key], new)
            resized[(old + 1) // 2, (new + 1) // 2] += 1
    for (old, new), count in sorted(resized.items()):
        print_log(f'{count} relative position bias tables resized by bicubic interpolation from '
                  f'window {old} to the model\'s window {new}', logger='current')
    return fitted


def _check_same_heads(key: str, table: torch.Tensor, wanted: torch.Tensor) -> None:
    if table.dim() != 2 or wanted.dim() != 2 or table.shape[1] != wanted.shape[1]:
        raise CheckpointKeysError(f'{key}: the file\'s table {tuple(table.shape)} and the '
                                  f'model\'s {tuple(wanted.shape)} differ in heads (dim 1)')
