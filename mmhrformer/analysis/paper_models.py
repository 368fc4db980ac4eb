"""The models whose sizes the paper reports, built from our backbone, with the paper's figures."""
from typing import Dict, Tuple

import torch
import torch.nn as nn

from mmhrformer.models import HRFormer, HRFormerClsNeck

#: (params in M, GFLOPs) from the paper and the official README.
PAPER_POSE = {'tiny': (2.5, 1.3), 'small': (7.8, 2.8), 'base': (43.2, 12.2)}  # 256x192, COCO
PAPER_CLS = {'tiny': (8.0, 1.83), 'small': (13.5, 3.56), 'base': (50.3, 13.71)}  # 224x224


class PoseModel(nn.Module):
    """Backbone (highest-resolution stream only) + a 1x1 conv to 17 heatmaps, as in the paper."""

    def __init__(self, arch: str):
        super().__init__()
        self.backbone = HRFormer(arch, out_indices=(0, ))
        self.head = nn.Conv2d(self.backbone.out_channels[0], 17, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[0])


class Classifier(nn.Module):
    """Backbone + HRFormer's classification neck + a linear classifier over 1000 classes."""

    def __init__(self, arch: str):
        super().__init__()
        self.backbone = HRFormer(arch)
        self.neck = HRFormerClsNeck(self.backbone.out_channels)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.neck(self.backbone(x))[0])


def paper_models() -> Dict[str, Tuple[nn.Module, Tuple[int, int, int], Tuple[float, float]]]:
    """name -> (model, input shape, (paper params in M, paper GFLOPs))."""
    models = {}
    for arch, figures in PAPER_POSE.items():
        models[f'HRFormer-{arch[0].upper()} pose'] = (PoseModel(arch), (3, 256, 192), figures)
    for arch, figures in PAPER_CLS.items():
        models[f'HRFormer-{arch[0].upper()} cls'] = (Classifier(arch), (3, 224, 224), figures)
    return models
