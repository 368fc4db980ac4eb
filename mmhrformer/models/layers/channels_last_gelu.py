"""GELU on a channels-last map, run on the contiguous tensor that the map is in memory.

A ``B x C x H x W`` map stored channels-last is, in memory, a contiguous ``B x H x W x C`` tensor.
PyTorch's CPU GELU kernels are slower on the channels-last 4-D view than on that contiguous view of
the same memory (torch 2.14: forward 1.9-2.5x, backward 1.3x, at HRFormer-B's hidden map of 312
channels at 64x48; ReLU, additions and other element-wise ops run alike on both, measured). The
FFN's activations act on channels-last maps, in the forward pass, its replay and the backward pass:
through the contiguous view a training block step was 1.5-4% faster in the first two streams of
HRFormer-S and -B, the same in the others (interleaved, medians of 8). Inference fuses the GELU
into the convolution before it (:mod:`.fused_ops`). Tracers and the compiler get the plain GELU
(:mod:`.tracing`): the transposes around it kept TorchScript's oneDNN Graph fuser from joining it
to the convolution before it (HRFormer-S at batch 8: 474 ms with them, 412 ms without, measured).
"""
import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer

from .tracing import traced_or_compiled


class ChannelsLastGELU(nn.GELU):
    """``nn.GELU`` (same argument) that runs a channels-last ``B x C x H x W`` input as the
    contiguous ``B x H x W x C`` tensor it is in memory; the same layout out, the same values up
    to the last bit (PyTorch's two kernels round differently); a plain GELU while traced or
    compiled."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() == 4 and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)
                and not traced_or_compiled()):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return super().forward(x)


def build_ffn_activation(act_cfg: dict) -> nn.Module:
    """The activation of ``act_cfg`` (mmcv's registry); a plain GELU becomes a
    :class:`ChannelsLastGELU`."""
    act = build_activation_layer(act_cfg)
    return ChannelsLastGELU(act.approximate) if type(act) is nn.GELU else act
