"""One HRFormer block per stream, ours against mmpose's port: where a training step's time goes.

Each stream of a variant gets a block of its width, heads and MLP ratio (window 7, plain
BatchNorm, random weights), on the map that stream has for the given input size (1/4 to 1/32 of
it), in training mode. A step is the forward pass, then the backward pass of the output's sum;
ours and the port's block take turns at every repetition (:func:`.benchmark.median_times`), and
each figure is a median. The backbone's training step is, besides the stem, stage 1, the
transitions and the fusions, these blocks times the number of blocks per stream (see
``HRFormer.arch_zoo``).
"""
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Tuple

import torch
import torch.nn as nn

from mmhrformer.models.backbones.hrformer import HRFormer
from mmhrformer.models.layers import HRFormerBlock
from .benchmark import Runner, Size, median_times

#: Downsampling of each stream against the input.
STREAM_STRIDES = (4, 8, 16, 32)
WINDOW_SIZE = 7


class BlockTiming(NamedTuple):
    """Median milliseconds of one block's forward and backward passes, ours and the port's."""
    stream: int
    channels: int
    map_size: Size
    ours: Tuple[float, float]  # (forward, backward)
    port: Tuple[float, float]


def build_blocks(variant: str, stream: int) -> Dict[str, nn.Module]:
    """Our block and mmpose's port's block for ``stream`` (0-3) of ``variant`` ('tiny', 'small',
    'base')."""
    from mmpose.models.backbones.hrformer import HRFormerBlock as PortBlock
    if variant not in HRFormer.arch_zoo:
        raise ValueError(f'variant={variant!r} is not one of {sorted(HRFormer.arch_zoo)}')
    arch = HRFormer.arch_zoo[variant]
    channels, heads = arch['channels'][stream], arch['num_heads'][stream]
    mlp_ratio = arch['mlp_ratios'][stream]
    return dict(
        ours=HRFormerBlock(channels, heads, WINDOW_SIZE, mlp_ratio),
        port=PortBlock(channels, channels, heads, WINDOW_SIZE, mlp_ratio,
                       norm_cfg=dict(type='BN')))


def _timed_passes(block: nn.Module, x: torch.Tensor, runner: Runner,
                  times: List[Tuple[float, float]]) -> Callable[[], None]:
    """A step that runs ``block``'s forward and backward passes on ``x`` and appends their
    seconds to ``times``."""
    block.train()

    def step():
        inputs = x.clone().requires_grad_()
        runner.sync()
        start = time.perf_counter()
        with runner.autocast():
            output = block(inputs)
        runner.sync()
        middle = time.perf_counter()
        output.float().sum().backward()
        runner.sync()
        times.append((middle - start, time.perf_counter() - middle))
    return step


def block_step_times(variant: str = 'small', size: Size = (256, 192), batch: int = 8,
                     runner: Runner = Runner(), warmup: int = 1,
                     repeats: int = 5) -> List[BlockTiming]:
    """Times one block of each stream of ``variant``, ours and the port's, on ``batch`` maps of
    the stream's size for a ``size`` input (``B x C x H/s x W/s``, channels-last as in the
    backbone)."""
    timings = []
    for stream, stride in enumerate(STREAM_STRIDES):
        blocks = {name: block.to(runner.device) for name, block in
                  build_blocks(variant, stream).items()}
        channels = HRFormer.arch_zoo[variant]['channels'][stream]
        map_size = (-(-size[0] // stride), -(-size[1] // stride))
        x = torch.randn(batch, channels, *map_size, device=runner.device).contiguous(
            memory_format=torch.channels_last)
        times = {name: [] for name in blocks}
        median_times(runner, {name: _timed_passes(block, x, runner, times[name])
                              for name, block in blocks.items()}, warmup, repeats)
        medians = {name: tuple(1e3 * statistics.median(passes) for passes in zip(*runs[warmup:]))
                   for name, runs in times.items()}
        timings.append(BlockTiming(stream, channels, map_size, medians['ours'], medians['port']))
    return timings


def block_table(timings: List[BlockTiming]) -> str:
    """A Markdown table of :func:`block_step_times`, with our speed against the port's."""
    lines = ['| stream | C | map | ours fwd (ms) | ours bwd (ms) | port fwd (ms) | port bwd (ms) '
             '| step speed vs port |', '| --- ' * 8 + '|']
    for t in timings:
        speed = sum(t.port) / sum(t.ours)
        lines.append(f'| {t.stream} | {t.channels} | {t.map_size[0]}x{t.map_size[1]} | '
                     f'{t.ours[0]:.1f} | {t.ours[1]:.1f} | {t.port[0]:.1f} | {t.port[1]:.1f} | '
                     f'{speed:.2f}x |')
    return '\n'.join(lines)
