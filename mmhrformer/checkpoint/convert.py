"""Conversion of HRFormer checkpoints from mmpose's port and the official code to our layout.

Both sources share HRNet's key layout (``conv1``, ``layer1``, ``transitionN``,
``stageS.M.branches``, ``stageS.M.fuse_layers``); they differ in the attention and FFN names: mmpose
has ``attn.attn.qkv`` and ``ffn.*``, the official forks (cls, pose, seg)
``attn.attn.{q,k,v,out}_proj`` and ``mlp.*``. Every key of the source must be mapped: one that is
not is an error that lists it.

What the official forks compute differently is not a matter of keys, so the model must be built
to match (see :data:`OFFICIAL_SETTINGS`).
"""
import re
from typing import Callable, Dict, List, Tuple

import torch

from .safe_loading import load_checkpoint_file

StateDict = Dict[str, torch.Tensor]

#: Backbone arguments that reproduce each official fork (found by reading its code).
OFFICIAL_SETTINGS = {
    'cls': dict(upsample_mode='nearest'),
    'seg': dict(upsample_mode='nearest'),
    # The pose fork builds the relative position bias table but never adds it to the logits.
    'pose': dict(with_rpe=False, out_indices=(0, )),
}

_BLOCK = r'(stage\d\.\d+\.branches\.\d+\.\d+)'
_FUSE = r'stage(\d)\.(\d+)\.fuse_layers\.(\d+)\.(\d+)'

#: (pattern, replacement) for the keys that both sources name alike; the first match wins.
_SHARED_RULES: List[Tuple[str, str]] = [
    (r'^conv1\.(.*)$', r'stem.0.conv.\1'),
    (r'^bn1\.(.*)$', r'stem.0.bn.\1'),
    (r'^conv2\.(.*)$', r'stem.1.conv.\1'),
    (r'^bn2\.(.*)$', r'stem.1.bn.\1'),
    (r'^layer1\.(.*)$', r'stage1.\1'),
    # a new stream: a Sequential around the conv module; an adapted stream: the module itself
    (r'^(transition\d\.\d+)\.0\.0\.(.*)$', r'\1.conv.\2'),
    (r'^(transition\d\.\d+)\.0\.1\.(.*)$', r'\1.bn.\2'),
    (r'^(transition\d\.\d+)\.0\.(.*)$', r'\1.conv.\2'),
    (r'^(transition\d\.\d+)\.1\.(.*)$', r'\1.bn.\2'),
    (rf'^{_BLOCK}\.(norm[12]\..*)$', r'\1.\2'),
    (rf'^{_BLOCK}\.attn\.attn\.relative_position_bias_table$',
     r'\1.attn.relative_position_bias_table'),
]

_UP_PATH = {'0': 'conv', '1': 'bn'}  # 1x1 conv, norm (the upsampling has no weights)
#: Per step of a downsampling path: depth-wise conv, norm, point-wise conv, norm.
_DOWN_STEP = {'0': 'depthwise_conv.conv', '1': 'depthwise_conv.bn', '2': 'pointwise_conv.conv',
              '3': 'pointwise_conv.bn'}
_FFN_NAMES = {'fc1': 'fc1', 'norm1': 'norm1', 'dw3x3': 'dwconv', 'norm2': 'norm2', 'fc2': 'fc2',
              'norm3': 'norm3'}


def _rename_fuse(key: str):
    """``stageS.M.fuse_layers.i.j.*``: from stream j to stream i, up (j > i) or down (j < i)."""
    match = re.match(rf'^{_FUSE}\.(.*)$', key)
    if not match:
        return None
    stage, module, dst, src, rest = match.groups()
    prefix = f'stage{stage}.{module}.fusion.paths.{dst}.{src}'
    if int(src) > int(dst):
        layer, _, name = rest.partition('.')
        return f'{prefix}.{_UP_PATH[layer]}.{name}' if layer in _UP_PATH else None
    step = re.match(r'^(\d+)\.([0-3])\.(.*)$', rest)
    return f'{prefix}.{step[1]}.{_DOWN_STEP[step[2]]}.{step[3]}' if step else None


def _rename_ffn(key: str, ffn_name: str):
    match = re.match(rf'^{_BLOCK}\.{ffn_name}\.(\w+)\.(.*)$', key)
    if not match or match[2] not in _FFN_NAMES:
        return None
    return f'{match[1]}.ffn.{_FFN_NAMES[match[2]]}.{match[3]}'


def _rename_with(rules: List[Tuple[str, str]]) -> Callable[[str], str]:
    def rename(key: str):
        for pattern, replacement in rules:
            if re.match(pattern, key):
                return re.sub(pattern, replacement, key)
        return None
    return rename


def _is_derived(key: str) -> bool:
    """Buffers that our model recomputes from its arguments."""
    return key.endswith('relative_position_index')


def _convert_backbone(state: StateDict, renamers: List[Callable[[str], str]]) -> StateDict:
    converted, unmapped = {}, []
    for key, value in state.items():
        if _is_derived(key):
            continue
        new_key = next((name for name in (r(key) for r in renamers) if name is not None), None)
        if new_key is None:
            unmapped.append(key)
        else:
            converted[new_key] = value
    if unmapped:
        raise KeyError(f'{len(unmapped)} checkpoint keys cannot be mapped to mmhrformer\'s '
                       f'HRFormer: {unmapped}')
    return converted


def _merge_official_qkv(state: StateDict) -> StateDict:
    """Concatenates the official separate q/k/v projections into one ``qkv`` (q, k, v order).
    A projection whose partners are not all there is an error that lists the absent keys."""
    merged = dict(state)
    pattern = re.compile(r'\.attn\.attn\.[qkv]_proj\.(weight|bias)$')
    groups = {pattern.sub(r'.attn.attn.{}_proj.\1', k) for k in state if pattern.search(k)}
    absent = sorted(group.format(name) for group in groups for name in 'qkv'
                    if group.format(name) not in state)
    if absent:
        raise KeyError(f'{len(absent)} official attention projections are absent (each block '
                       f'needs q_proj, k_proj and v_proj): {absent}')
    for group in groups:
        parts = [merged.pop(group.format(name)) for name in 'qkv']
        merged[group.format('qkv').replace('.qkv_proj.', '.qkv.')] = torch.cat(parts, dim=0)
    return merged


def convert_mmpose(state: StateDict) -> StateDict:
    """Converts the backbone keys of mmpose's ``HRFormer`` (without the ``backbone.`` prefix)."""
    rules = _SHARED_RULES + [(rf'^{_BLOCK}\.attn\.attn\.(qkv|proj)\.(.*)$', r'\1.attn.\2.\3')]
    return _convert_backbone(state, [_rename_with(rules), _rename_fuse,
                                     lambda key: _rename_ffn(key, 'ffn')])


def convert_official(state: StateDict) -> StateDict:
    """Converts the backbone keys of the official HRFormer (cls, pose or seg fork)."""
    rules = _SHARED_RULES + [(rf'^{_BLOCK}\.attn\.attn\.qkv\.(.*)$', r'\1.attn.qkv.\2'),
                             (rf'^{_BLOCK}\.attn\.attn\.out_proj\.(.*)$', r'\1.attn.proj.\2')]
    return _convert_backbone(_merge_official_qkv(state),
                             [_rename_with(rules), _rename_fuse,
                              lambda key: _rename_ffn(key, 'mlp')])


#: The official heads, mapped onto the modules of our configs: the classifier's onto
#: ``HRFormerClsNeck`` + mmpretrain's ``LinearClsHead``, the pose fork's onto mmpose's
#: ``HeatmapHead``.
_OFFICIAL_HEAD_RULES: List[Tuple[str, str]] = [
    (r'^incre_modules\.(\d)\.0\.(conv[123])\.(.*)$', r'neck.increase_layers.\1.\2.conv.\3'),
    (r'^incre_modules\.(\d)\.0\.bn([123])\.(.*)$', r'neck.increase_layers.\1.conv\2.bn.\3'),
    (r'^incre_modules\.(\d)\.0\.downsample\.0\.(.*)$',
     r'neck.increase_layers.\1.downsample.conv.\2'),
    (r'^incre_modules\.(\d)\.0\.downsample\.1\.(.*)$', r'neck.increase_layers.\1.downsample.bn.\2'),
    (r'^downsamp_modules\.(.*)$', r'neck.downsample_layers.\1'),
    (r'^final_layer\.(.*)$', r'neck.final_layer.\1'),
    (r'^classifier\.(.*)$', r'head.fc.\1'),
    (r'^keypoint_head\.(.*)$', r'head.\1'),
]
#: Top-level names of the official classifier's head (``cls/models/hrt.py``).
OFFICIAL_CLS_HEAD = ('incre_modules', 'downsamp_modules', 'final_layer', 'classifier')


def _convert_official_head(state: StateDict) -> StateDict:
    rename = _rename_with(_OFFICIAL_HEAD_RULES)
    unmapped = [key for key in state if rename(key) is None]
    if unmapped:
        raise KeyError(f'{len(unmapped)} head keys of the official checkpoint cannot be mapped: '
                       f'{unmapped}; convert the backbone alone with backbone_only=True')
    return {rename(key): value for key, value in state.items()}


def _split_backbone(state: StateDict) -> Tuple[StateDict, StateDict, bool]:
    """Returns (backbone keys without prefix, the other keys, whether keys had the prefix)."""
    if any(key.startswith('backbone.') for key in state):
        backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
        return backbone, {k: v for k, v in state.items() if not k.startswith('backbone.')}, True
    # The official classifier saves its backbone and head side by side, without prefixes.
    is_head = {k: k.split('.')[0] in OFFICIAL_CLS_HEAD for k in state}
    return ({k: v for k, v in state.items() if not is_head[k]},
            {k: v for k, v in state.items() if is_head[k]}, False)


def convert_state_dict(state: StateDict, source: str, backbone_only: bool = False) -> StateDict:
    """Converts a whole checkpoint's state dict to the layout of our models.

    The backbone keys are converted; a toolbox model's are under ``backbone.`` and stay there.
    The other keys (a head): mmpose's are kept as they are (our pose configs use the same head);
    the official classifier's and pose head's are mapped onto our configs' neck and head.

    Args:
        state: the source's ``state_dict`` (a ``module.`` prefix of DataParallel is removed).
        source: ``'mmpose'``, ``'official'``, or ``'mmhrformer'`` for a checkpoint of our own
            models, whose keys are kept (to make a plain copy of a trusted file).
        backbone_only: return only the backbone, without prefix (for ``init_cfg=Pretrained``).
    """
    converters = {'mmpose': convert_mmpose, 'official': convert_official, 'mmhrformer': dict}
    if source not in converters:
        raise ValueError(f'source must be one of {sorted(converters)}, got {source!r}')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    if source == 'official' and guess_official_fork(state) == 'pose':
        # The pose fork builds these tables but never adds them to the logits: a model built
        # with with_rpe=False (which reproduces it) has none.
        state = {k: v for k, v in state.items() if not k.endswith('relative_position_bias_table')}
    backbone, others, prefixed = _split_backbone(state)
    backbone = converters[source](backbone)
    if backbone_only:
        return backbone
    if source == 'official':
        others = _convert_official_head(others)
    prefix = 'backbone.' if prefixed or others else ''
    return {**{prefix + k: v for k, v in backbone.items()}, **others}


def guess_official_fork(state: StateDict) -> str:
    """``'cls'``, ``'pose'`` or ``'seg'``, from the keys of an official checkpoint."""
    if any(key.startswith('classifier.') for key in state):
        return 'cls'
    if any(key.startswith('keypoint_head.') for key in state):
        return 'pose'
    return 'seg'


def convert_checkpoint(src: str, dst: str, source: str, backbone_only: bool = False,
                       trust: bool = False) -> dict:
    """Reads ``src``, converts it, writes ``{'state_dict': ...}`` (tensors only) to ``dst`` and
    returns the backbone arguments that reproduce the source's outputs.

    ``src`` must be a plain checkpoint (tensors and allow-listed types) unless ``trust``: then
    everything in it is unpickled, which runs any code it holds (see :mod:`.safe_loading`).
    """
    checkpoint = load_checkpoint_file(src, map_location='cpu', trust=trust)
    state = checkpoint
    for wrapper in ('state_dict', 'model'):  # mmengine / the official code
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    converted = convert_state_dict(state, source, backbone_only)
    not_tensors = sorted(key for key, value in converted.items()
                         if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise ValueError(f'{src}: these state dict entries are not tensors, so the converted file '
                         f'would not be a plain checkpoint: {not_tensors}')
    torch.save({'state_dict': converted}, dst)
    if source == 'official':
        return OFFICIAL_SETTINGS[guess_official_fork(state)]
    return {}
