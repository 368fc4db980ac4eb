"""HRFormer: High-Resolution Transformer for Dense Prediction (Yuan et al., NeurIPS 2021,
https://arxiv.org/abs/2110.09408).

A convolutional stem and a stage of bottlenecks bring the image to 1/4 resolution; then stages 2-4
run 2, 3 and 4 parallel streams (1/4, 1/8, 1/16, 1/32) of HRFormer blocks, each stage a stack of
:class:`MultiResolutionModule` (branches + fusion), with a transition before it that adds the next
lower-resolution stream.
"""
import copy
from typing import Dict, List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule, Sequential
from mmengine.model.weight_init import update_init_info
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models.resnet import Bottleneck

from mmhrformer.checkpoint.pretrained import load_pretrained_backbone, pretrained_cfg
from mmhrformer.registry import MODELS
from ..layers import MultiResolutionModule
from ..layers.cpu_paths import channels_last_on_cpu

NUM_STREAMS = 4

#: Required keys of an arch dict. Per stream (4 values): channels, num_heads, mlp_ratios.
#: Per stage 2-4 (3 values): num_modules, num_blocks (blocks per stream in each module).
ARCH_KEYS = {'channels': NUM_STREAMS, 'num_heads': NUM_STREAMS, 'mlp_ratios': NUM_STREAMS,
             'num_modules': NUM_STREAMS - 1, 'num_blocks': NUM_STREAMS - 1}
#: Optional keys of an arch dict, with the values of every published variant (HRNet's): the
#: width of the stem and stage 1's bottlenecks, and how many bottlenecks stage 1 has.
OPTIONAL_ARCH_KEYS = {'stem_channels': 64, 'stage1_blocks': 2}


def _arch(channels, num_heads, num_modules):
    return dict(channels=channels, num_heads=num_heads, mlp_ratios=[4, 4, 4, 4],
                num_modules=num_modules, num_blocks=[2, 2, 2])


_TINY = _arch([18, 36, 72, 144], [1, 2, 4, 8], [1, 3, 2])
_SMALL = _arch([32, 64, 128, 256], [1, 2, 4, 8], [1, 4, 2])
_BASE = _arch([78, 156, 312, 624], [2, 4, 8, 16], [1, 4, 2])


@MODELS.register_module()
class HRFormer(BaseModule):
    """The HRFormer backbone.

    Args:
        arch: ``'tiny'``/``'t'``, ``'small'``/``'s'``, ``'base'``/``'b'``, or a dict with the keys
            of :data:`ARCH_KEYS` (and optionally :data:`OPTIONAL_ARCH_KEYS`) for a custom variant.
        in_channels: channels of the input image.
        window_size: side of the attention windows, one for all streams or one per stream
            (the paper uses 7; its larger-window segmentation models 13 or 15).
        drop_path_rate: stochastic depth rate, rising linearly over the transformer blocks from 0.
        with_rpe: whether the attention uses the relative position bias.
        block_type: registered name of the block of stages 2-4. ``'ConvBasicBlock'`` gives the
            paper's ablation, an HRNet with HRFormer's layout.
        memory_saving: build ``'HRFormerBlock'`` blocks as
            :class:`~mmhrformer.models.layers.MemorySavingHRFormerBlock`: in training each keeps
            three maps of its width for the backward pass and recomputes the rest there (same
            parameters, outputs and gradients; about a seventh more FLOPs per training step).
            Off: the plain blocks, which keep every intermediate map. On by default: HRFormer's
            plain blocks keep about twice the memory of an HRNet of the same width.
        upsample_mode: interpolation in the fusion (``'bilinear'`` or ``'nearest'``).
        out_indices: which streams to return (0 = stride 4, ..., 3 = stride 32). The last fusion
            computes only these (a pose model that takes stream 0 has no unused parameters).
        frozen_stages: stages to freeze (no gradients, norms in eval mode): -1 none, 0 the stem,
            ``k >= 1`` the stem and stages 1..k with the transitions that follow them.
        norm_eval: keep all BatchNorm layers in eval mode during training.
        norm_cfg: norm of the convolutions.
        with_cp: gradient checkpointing of each block of stages 2-4: only its input is kept for
            the backward pass, and the whole block runs again there (least memory, most compute;
            instead of ``memory_saving``'s partial recomputation).
        init_cfg: mmengine initialisation config. ``dict(type='Pretrained', checkpoint=...,
            prefix=None)`` loads a published file as it is downloaded (path or URL; official,
            mmpose's or our key layout), strictly: see :mod:`mmhrformer.checkpoint.pretrained`.

    Inputs ``B x in_channels x H x W`` of any size; outputs a tuple of ``B x C_i x H_i x W_i`` for
    ``i`` in ``out_indices``, with ``H_i = ceil(H / 2^(i+2))`` and ``C_i`` from the arch; on the
    CPU they are stored channels-last (:mod:`~mmhrformer.models.layers.cpu_paths`).
    """

    arch_zoo = {'t': _TINY, 'tiny': _TINY, 's': _SMALL, 'small': _SMALL, 'b': _BASE, 'base': _BASE}

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 window_size: Union[int, Sequence[int]] = 7,
                 drop_path_rate: float = 0.,
                 with_rpe: bool = True,
                 block_type: str = 'HRFormerBlock',
                 memory_saving: bool = True,
                 upsample_mode: str = 'bilinear',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 init_cfg=[
                     dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer=['_BatchNorm', 'LayerNorm'], val=1., bias=0.),
                 ]):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'in_channels must be an int >= 1, got {in_channels!r}')
        self.in_channels = in_channels
        self.arch = self._check_arch(arch)
        self.channels = tuple(self.arch['channels'])
        self.window_sizes = self._check_window_size(window_size)
        self.out_indices = self._check_out_indices(out_indices)
        if not -1 <= frozen_stages <= NUM_STREAMS:
            raise ValueError(f'frozen_stages must be in [-1, {NUM_STREAMS}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        block_cls = MODELS.get(block_type)
        if block_cls is None:
            raise KeyError(f'block_type={block_type!r} is not registered in mmhrformer.MODELS; '
                           "use 'HRFormerBlock', 'ConvBasicBlock' or a block you registered")
        self.memory_saving = memory_saving
        if memory_saving and block_type == 'HRFormerBlock':
            block_type = 'MemorySavingHRFormerBlock'

        stem_channels = self.arch['stem_channels']
        self.stem = nn.Sequential(*(
            ConvModule(cin, stem_channels, 3, stride=2, padding=1, norm_cfg=norm_cfg)
            for cin in (in_channels, stem_channels)))
        self.stage1 = self._make_stage1(stem_channels, self.arch['stage1_blocks'], norm_cfg)
        drop_paths = iter(torch.linspace(0, drop_path_rate, self._num_blocks()).tolist())
        prev_channels = [stem_channels * Bottleneck.expansion]
        for stage in range(2, NUM_STREAMS + 1):
            stage_channels = list(self.channels[:stage])
            self.add_module(f'transition{stage - 1}',
                            self._make_transition(prev_channels, stage_channels, norm_cfg))
            block_args = dict(block_type=block_type, branch_args=block_cls.branch_args,
                              drop_paths=drop_paths, with_rpe=with_rpe, norm_cfg=norm_cfg,
                              with_cp=with_cp)
            self.add_module(f'stage{stage}', self._make_stage(stage, block_args, upsample_mode))
            prev_channels = stage_channels
        self._freeze_stages()

    # ---- arguments -------------------------------------------------------------------------

    def _check_arch(self, arch: Union[str, dict]) -> Dict[str, list]:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'arch={arch!r} is not one of {sorted(set(self.arch_zoo))}; '
                                 f'or give a dict with the keys {sorted(ARCH_KEYS)}')
            return {**OPTIONAL_ARCH_KEYS, **copy.deepcopy(self.arch_zoo[arch.lower()])}
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}')
        missing = sorted(set(ARCH_KEYS) - set(arch))
        if missing:
            raise ValueError(f'the custom arch dict lacks the keys {missing}; '
                             f'it needs all of {sorted(ARCH_KEYS)}')
        unknown = sorted(set(arch) - set(ARCH_KEYS) - set(OPTIONAL_ARCH_KEYS))
        if unknown:
            raise ValueError(f'the custom arch dict has unknown keys {unknown}; valid keys are '
                             f'{sorted(ARCH_KEYS)} and optionally {sorted(OPTIONAL_ARCH_KEYS)}')
        for key, length in ARCH_KEYS.items():
            if len(arch[key]) != length:
                raise ValueError(f'arch[{key!r}] must have {length} values (one per '
                                 f'{"stream" if length == NUM_STREAMS else "stage 2-4"}), '
                                 f'got {list(arch[key])}')
        for channels, heads in zip(arch['channels'], arch['num_heads']):
            if channels % heads:
                raise ValueError(f"arch['channels'] {list(arch['channels'])} must be divisible by "
                                 f"arch['num_heads'] {list(arch['num_heads'])}, stream by stream")
        checked = {key: list(arch[key]) for key in ARCH_KEYS}
        for key, default in OPTIONAL_ARCH_KEYS.items():
            checked[key] = arch.get(key, default)
            if not isinstance(checked[key], int) or checked[key] < 1:
                raise ValueError(f'arch[{key!r}] must be an int >= 1, got {checked[key]!r}')
        return checked

    @staticmethod
    def _check_window_size(window_size: Union[int, Sequence[int]]) -> Tuple[int, ...]:
        sizes = ((window_size, ) * NUM_STREAMS if isinstance(window_size, int)
                 else tuple(window_size))
        if len(sizes) != NUM_STREAMS or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f'window_size must be an int >= 1 or {NUM_STREAMS} such ints '
                             f'(one per stream), got {window_size!r}')
        return sizes

    @staticmethod
    def _check_out_indices(out_indices: Sequence[int]) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        for index in out_indices:
            if not -NUM_STREAMS <= index < NUM_STREAMS:
                raise ValueError(f'out_indices {tuple(out_indices)} has {index}, which is out of '
                                 f'range: valid stream indices are 0..{NUM_STREAMS - 1} '
                                 f'(or -{NUM_STREAMS}..-1)')
        return tuple(index % NUM_STREAMS for index in out_indices)

    # ---- construction ----------------------------------------------------------------------

    def _num_blocks(self) -> int:
        """Blocks along one stream of stages 2-4, over which the drop path rate rises."""
        return sum(m * b for m, b in zip(self.arch['num_modules'], self.arch['num_blocks']))

    @staticmethod
    def _make_stage1(channels: int, num_blocks: int, norm_cfg: dict) -> nn.Sequential:
        """Bottlenecks of width ``channels``, out ``4 * channels``, as in HRNet's stage 1."""
        def norm_layer(width):
            return build_norm_layer(norm_cfg, width)[1]

        out_channels = channels * Bottleneck.expansion
        downsample = nn.Sequential(nn.Conv2d(channels, out_channels, 1, bias=False),
                                   norm_layer(out_channels))
        blocks = [Bottleneck(channels, channels, downsample=downsample, norm_layer=norm_layer)]
        blocks += [Bottleneck(out_channels, channels, norm_layer=norm_layer)
                   for _ in range(num_blocks - 1)]
        return nn.Sequential(*blocks)

    @staticmethod
    def _make_transition(prev_channels: List[int], channels: List[int],
                         norm_cfg: dict) -> nn.ModuleList:
        """Adapts the existing streams' channels and adds the new lowest-resolution stream,
        made from the previous lowest one by a 3x3 stride-2 convolution."""
        layers = [nn.Identity() if prev == cur else
                  ConvModule(prev, cur, 3, padding=1, norm_cfg=norm_cfg)
                  for prev, cur in zip(prev_channels, channels)]
        layers.append(ConvModule(prev_channels[-1], channels[-1], 3, stride=2, padding=1,
                                 norm_cfg=norm_cfg))
        return nn.ModuleList(layers)

    def _make_stage(self, stage: int, block_args: dict, upsample_mode: str) -> Sequential:
        """The modules of ``stage`` (2-4); the very last fusion computes only the returned
        streams."""
        channels = list(self.channels[:stage])
        num_modules = self.arch['num_modules'][stage - 2]
        modules = []
        for index in range(num_modules):
            is_last = stage == NUM_STREAMS and index == num_modules - 1
            out_streams = sorted(set(self.out_indices)) if is_last else None
            modules.append(MultiResolutionModule(
                channels, self._block_cfgs(stage, **block_args), block_args['norm_cfg'],
                upsample_mode, out_streams))
        return Sequential(*modules)  # mmengine's: its init_weights reaches the modules' own

    def _block_cfgs(self, stage: int, block_type: str, branch_args: Sequence[str], drop_paths,
                    with_rpe: bool, norm_cfg: dict, with_cp: bool) -> List[List[dict]]:
        """Config dicts of the blocks of one module of ``stage``: a list per stream."""
        num_blocks = self.arch['num_blocks'][stage - 2]
        rates = [next(drop_paths) for _ in range(num_blocks)]
        cfgs = []
        for stream in range(stage):
            settings = dict(num_heads=self.arch['num_heads'][stream],
                            window_size=self.window_sizes[stream],
                            mlp_ratio=self.arch['mlp_ratios'][stream], with_rpe=with_rpe)
            extra = {name: settings[name] for name in branch_args}
            cfgs.append([dict(type=block_type, channels=self.channels[stream], drop_path=rate,
                              norm_cfg=norm_cfg, with_cp=with_cp, **extra) for rate in rates])
        return cfgs

    def init_weights(self):
        """mmengine's initialisation, or, for ``init_cfg=dict(type='Pretrained', ...)``, every
        weight from the checkpoint (converted, tables resized, strictly loaded)."""
        cfg = pretrained_cfg(self.init_cfg)
        if cfg is None:
            super().init_weights()
            return
        load_pretrained_backbone(self, cfg['checkpoint'], cfg.get('prefix'),
                                 cfg.get('map_location', 'cpu'))
        if hasattr(self, '_params_init_info'):  # set by the model being initialised
            update_init_info(self, f'{type(self).__name__}: loaded from {cfg["checkpoint"]}')
        self._is_init = True

    # ---- forward and training behaviour ----------------------------------------------------

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of the returned maps, in the order of ``out_indices``."""
        return tuple(self.channels[i] for i in self.out_indices)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Args: x: ``B x in_channels x H x W``. Returns: the maps of ``out_indices``."""
        self._check_input(x)
        streams = [self.stage1(self.stem(channels_last_on_cpu(x)))]
        for stage in range(2, NUM_STREAMS + 1):
            transition = getattr(self, f'transition{stage - 1}')
            inputs = [layer(s) for layer, s in zip(transition, streams)]
            inputs.append(transition[-1](streams[-1]))
            streams = inputs
            for module in getattr(self, f'stage{stage}'):
                streams = module(streams)
        by_stream = dict(zip(sorted(set(self.out_indices)), streams))
        return tuple(by_stream[i] for i in self.out_indices)

    def _check_input(self, x: torch.Tensor) -> None:
        """Refuses, naming the shape or dtype, what the stem would fail on with a less clear error.
        Any memory layout works, and any floating dtype under ``torch.autocast``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.numel() == 0:
            raise ValueError(f'HRFormer takes images B x {self.in_channels} x H x W with B, H, W '
                             f'>= 1 (in_channels={self.in_channels}), got a tensor of shape '
                             f'{tuple(x.shape)}')
        weight_dtype = self.stem[0].conv.weight.dtype
        autocast = torch.is_autocast_enabled(x.device.type)
        if not x.is_floating_point() or (x.dtype != weight_dtype and not autocast):
            raise ValueError(f'HRFormer got an input of dtype {x.dtype}, its weights are '
                             f'{weight_dtype}: convert the input (x.to({weight_dtype})) or the '
                             'model, or run it under torch.autocast')

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = [self.stem]
        for stage in range(1, self.frozen_stages + 1):
            modules.append(getattr(self, f'stage{stage}'))
            if stage < NUM_STREAMS:
                modules.append(getattr(self, f'transition{stage}'))
        return modules

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
