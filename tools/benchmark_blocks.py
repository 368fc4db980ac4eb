"""One HRFormer block per stream, ours against mmpose's port: forward and backward times.

    python tools/benchmark_blocks.py                    # HRFormer-S, batch 8 at 256x192, CPU
    python tools/benchmark_blocks.py --arch base --repeats 9

Prints a Markdown table; see ``mmhrformer/analysis/block_benchmark.py`` for what is measured.
"""
import argparse

from mmhrformer.analysis.benchmark import Runner, parse_size
from mmhrformer.analysis.block_benchmark import block_step_times, block_table
from mmhrformer.models.backbones.hrformer import HRFormer


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='small', choices=sorted(HRFormer.arch_zoo))
    parser.add_argument('--size', type=parse_size, default=(256, 192),
                        help='input size HxW of the backbone; each stream gets its share')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--dtype', default='fp32', choices=['fp32', 'bf16', 'fp16'])
    return parser.parse_args()


def main():
    args = parse_args()
    timings = block_step_times(args.arch, args.size, args.batch, Runner(args.device, args.dtype),
                               args.warmup, args.repeats)
    print(f'HRFormer-{args.arch} blocks, batch {args.batch}, input {args.size[0]}x{args.size[1]}, '
          f'{args.device} {args.dtype}, training mode, medians of {args.repeats}\n')
    print(block_table(timings))


if __name__ == '__main__':
    main()
