"""HRFormer (ours and mmpose's port) against HRNet: parameters, FLOPs, speed and peak memory.

    python tools/benchmark.py                       # the full comparison, CPU, fp32
    python tools/benchmark.py --models HRFormer-S 'mmpose HRFormer-S' HRNet-W32 --sizes 256x192
    python tools/benchmark.py --device cuda --dtype bf16
    python tools/benchmark.py --sizes 256x192 --compile   # also compiled inference

Writes ``<out-dir>/benchmark.md`` (tables) and ``<out-dir>/benchmark.png`` (plots) and prints
the tables. See ``mmhrformer/analysis/benchmark.py`` for how each figure is measured.
"""
import argparse
import os
import platform
from pathlib import Path

import torch

from mmhrformer.analysis.benchmark import (COMPILED_NOTE, KEPT_HEAP_NOTE, Runner,
                                           measure_peak_memory, measure_timings, parse_size)
from mmhrformer.analysis.benchmark_models import MODELS
from mmhrformer.analysis.benchmark_report import (compiled_table, growth_table, kept_heap_table,
                                                  plot, summary_table)
from mmhrformer.analysis.complexity import __doc__ as COUNTER_NOTE


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS),
                        metavar='NAME', help=f'models to compare, of: {", ".join(MODELS)}')
    parser.add_argument('--sizes', nargs='+', type=parse_size,
                        default=[(256, 192), (384, 288), (512, 512), (1024, 1024)],
                        help='input sizes HxW; the first is the reference size')
    parser.add_argument('--batch', type=int, default=8, help='batch of throughput and training')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--train-rounds', type=int, default=3,
                        help='rounds of fresh processes timing the training step, the median '
                        'over rounds reported: its speed differs from one process to the next')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--dtype', default='fp32', choices=['fp32', 'bf16', 'fp16'])
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--compile', action='store_true',
                        help='also time inference at the batch through torch.compile (inductor, '
                        'frozen weights), beside eager in a fresh process; compiling takes '
                        'minutes per model on a CPU')
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    args = parser.parse_args()
    if args.train_rounds < 1:
        parser.error(f'--train-rounds {args.train_rounds}: give 1 or more')
    return args


def machine() -> str:
    if torch.cuda.is_available() and torch.cuda.device_count():
        gpu = torch.cuda.get_device_name()
    else:
        gpu = 'no GPU'
    return (f'{platform.machine()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} '
            f'threads, {gpu}, torch {torch.__version__}')


def main():
    args = parse_args()
    runner = Runner(args.device, args.dtype)
    # Memory first: the timing runs leave this process large, and the fresh processes that
    # measure memory must not compete with it for the machine's memory.
    memory = {} if args.no_memory else measure_peak_memory(args.models, args.sizes[0],
                                                           args.batch, runner)
    timings = measure_timings(args.models, args.sizes, args.batch, runner, args.warmup,
                              args.repeats, compiled=args.compile,
                              train_rounds=args.train_rounds)
    size = args.sizes[0]
    title = f'{args.device}, {args.dtype}: {machine()}'
    lines = [f'# Benchmark ({title})', '',
             f'Reference size {size[0]}x{size[1]}; medians of {args.repeats} runs after '
             f'{args.warmup} warm-up; eval mode without gradients, except the training step '
             f'(forward + backward + SGD), timed with each model in a process of its own, '
             f'median over {args.train_rounds} round(s) of fresh processes. '
             f'Peak memory: '
             + ('process peak RSS' if args.device == 'cpu' else 'max allocated')
             + ', one fresh process per model and mode.', '',
             *summary_table(timings, memory, size, args.batch), '',
             *(['## With glibc keeping its heap', '', KEPT_HEAP_NOTE, '',
                *kept_heap_table(timings, memory, args.batch), ''] if args.device == 'cpu' else []),
             *(['## Compiled inference (torch.compile)', '', COMPILED_NOTE, '',
                *compiled_table(timings, args.batch), ''] if args.compile else []),
             '## Cost against input size (batch 1)', '',
             *growth_table(timings, args.sizes), '',
             '## How FLOPs are counted', '', ' '.join(COUNTER_NOTE.split())]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'benchmark.md').write_text('\n'.join(lines) + '\n')
    plot(timings, args.sizes, str(out / 'benchmark.png'), title)
    print('\n'.join(lines))
    print(f'\nwritten: {out / "benchmark.md"}, {out / "benchmark.png"}')


if __name__ == '__main__':
    main()
