"""The backbones the benchmark compares, each built by its own toolbox's registry.

Pose backbones (the highest-resolution stream is what a heatmap head takes): our HRFormer T/S/B,
mmpose's HRFormer port T/S/B and mmpose's HRNet W18/W32/W48, all from mmpose's COCO 256x192
configs where mmpose has one. Each HRFormer is paired with the HRNet of the same widths (T with
W18, S with W32; B with W48, the HRNet the paper compares it with).
"""
import copy
from typing import Dict, NamedTuple, Optional

import torch.nn as nn
from mmengine.hub import get_config

COCO = 'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
MMPOSE_HRFORMER = COCO + 'td-hm_hrformer-{}_8xb32-210e_coco-256x192.py'
MMPOSE_HRNET = COCO + 'td-hm_hrnet-w{}_8xb{}-210e_coco-256x192.py'

#: HRFormer-T's widths; mmpose ships no HRFormer-T or HRNet-W18 COCO config, so these two are
#: built from the S / W32 configs with the widths (and, for T, the module counts) changed.
TINY_HEADS = {'stage2': [1, 2], 'stage3': [1, 2, 4], 'stage4': [1, 2, 4, 8]}
TINY_MODULES = {'stage2': 1, 'stage3': 3, 'stage4': 2}
W18 = (18, 36, 72, 144)


class BenchmarkModel(NamedTuple):
    """A backbone to measure: its family, its HRNet baseline and its published COCO AP."""
    family: str  # 'ours', 'mmpose' or 'hrnet'
    variant: str
    baseline: str  # name of the HRNet it is compared with
    coco_ap: Optional[float]  # COCO val2017 AP at 256x192 as published (paper or HRNet paper)


#: name -> what it is. Published APs: HRFormer paper (T 70.9, S 74.0, B 75.6), HRNet paper
#: (W32 74.4, W48 75.1); mmpose's ports reach the same within 0.2 (its model zoo).
MODELS: Dict[str, BenchmarkModel] = {
    'HRFormer-T': BenchmarkModel('ours', 'tiny', 'HRNet-W18', 70.9),
    'HRFormer-S': BenchmarkModel('ours', 'small', 'HRNet-W32', 74.0),
    'HRFormer-B': BenchmarkModel('ours', 'base', 'HRNet-W48', 75.6),
    'mmpose HRFormer-T': BenchmarkModel('mmpose', 'tiny', 'HRNet-W18', None),
    'mmpose HRFormer-S': BenchmarkModel('mmpose', 'small', 'HRNet-W32', None),
    'mmpose HRFormer-B': BenchmarkModel('mmpose', 'base', 'HRNet-W48', None),
    'HRNet-W18': BenchmarkModel('hrnet', '18', 'HRNet-W18', None),
    'HRNet-W32': BenchmarkModel('hrnet', '32', 'HRNet-W32', 74.4),
    'HRNet-W48': BenchmarkModel('hrnet', '48', 'HRNet-W48', 75.1),
}


def _mmpose_hrformer_cfg(variant: str) -> dict:
    cfg = copy.deepcopy(get_config(MMPOSE_HRFORMER.format(
        'base' if variant == 'base' else 'small')).model.backbone)
    if variant == 'tiny':
        for stage in ('stage2', 'stage3', 'stage4'):
            branches = len(TINY_HEADS[stage])
            cfg.extra[stage].update(num_channels=W18[:branches], num_heads=TINY_HEADS[stage],
                                    num_modules=TINY_MODULES[stage])
    cfg.extra.drop_path_rate = 0.
    return cfg


def _mmpose_hrnet_cfg(variant: str) -> dict:
    width, batch = ('48', 32) if variant == '48' else ('32', 64)
    cfg = copy.deepcopy(get_config(MMPOSE_HRNET.format(width, batch)).model.backbone)
    if variant == '18':
        for stage in ('stage2', 'stage3', 'stage4'):
            cfg.extra[stage].num_channels = W18[:len(cfg.extra[stage].num_channels)]
    return cfg


def build_backbone(name: str) -> nn.Module:
    """Builds the backbone ``name`` (a key of :data:`MODELS`) from its toolbox's registry, with
    plain BatchNorm (one process), random weights and no stochastic depth."""
    if name not in MODELS:
        raise KeyError(f'unknown benchmark model {name!r}; choose from {sorted(MODELS)}')
    spec = MODELS[name]
    if spec.family == 'ours':
        from mmhrformer.registry import MODELS as registry
        cfg = dict(type='HRFormer', arch=spec.variant, out_indices=(0, ), init_cfg=None)
    else:
        import mmpose.models  # noqa: F401  (registers mmpose's backbones)
        from mmpose.registry import MODELS as registry
        cfg = (_mmpose_hrformer_cfg if spec.family == 'mmpose' else _mmpose_hrnet_cfg)(spec.variant)
        cfg.update(norm_cfg=dict(type='BN', requires_grad=True), init_cfg=None)
    # `_scope_`: the toolbox's own names, whatever default scope the caller has set.
    return registry.build(dict(cfg, _scope_=registry.scope))  # PyTorch's default initialisation
