"""HRFormer (ours, with and without memory saving) against mmpose's port and HRNet, as pose
models built from their configs: memory, FLOPs and aten ops of a training step, and times.

    python tools/benchmark.py                        # S and B, 256x192, batch 8, CPU
    python tools/benchmark.py --compile              # also torch.compile'd inference (slow on CPUs)
    python tools/benchmark.py --device cuda --compile   # also max allocated and AMP fp16 / bf16
    python tools/benchmark.py --models HRFormer-T 'mmpose HRFormer-T' HRNet-W18 --size 64x64

Prints the report and writes it to ``--out`` (default ``docs/benchmark.md``). How each figure is
measured: ``mmhrformer/analysis/benchmark.py`` and the modules it names.
"""
import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from mmhrformer.analysis.benchmark import run_benchmark
from mmhrformer.analysis.benchmark_models import DEFAULT_MODELS, MODELS
from mmhrformer.analysis.benchmark_report import report


def parse_size(text: str) -> tuple:
    """``'256x192'`` -> ``(256, 192)``."""
    try:
        height, width = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size {text!r} is not HEIGHTxWIDTH, e.g. 256x192')
    return height, width


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=DEFAULT_MODELS, choices=list(MODELS),
                        metavar='NAME', help=f'models to compare, of: {", ".join(MODELS)}')
    parser.add_argument('--size', type=parse_size, default=(256, 192), help='input HxW')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs before the timed')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs; medians reported')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--compile', action='store_true',
                        help='also time inference through torch.compile (minutes per model on a '
                        'CPU)')
    parser.add_argument('--out', default='docs/benchmark.md', help='where the report goes')
    return parser.parse_args(argv)


def machine(device: str) -> str:
    where = torch.cuda.get_device_name() if device == 'cuda' else 'CPU'
    return (f'{where}; {platform.machine()}, {os.cpu_count()} CPU cores, '
            f'{torch.get_num_threads()} threads; torch {torch.__version__}')


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.strftime('%Y-%m-%d %H:%M')
    results = run_benchmark(args.models, args.size, args.batch, args.device, args.warmup,
                            args.repeats, args.compile)
    command = 'python tools/benchmark.py ' + shlex.join(sys.argv[1:] if argv is None else argv)
    setting = (f'`{command}`, {started}: batch {args.batch} at {args.size[0]}x{args.size[1]}, '
               f'fp32 unless said otherwise; {machine(args.device)}. Times: medians of '
               f'{args.repeats} after {args.warmup} warm-up.')
    text = report(results, 'Benchmark: HRFormer pose models as their configs build them', setting)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f'written: {out}')


if __name__ == '__main__':
    main()
