"""Exports a model of a toolbox config with its checkpoint to ONNX (dynamic batch, height, width).

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--example-size H W]
        [--check H W] [--opset N]

The graph takes the data preprocessor's output (B x 3 x H x W, normalised) and returns the head's
raw output: heatmaps (mmpose), logits at 1/4 of the input (mmseg), class logits (mmpretrain).
With --check, ONNX Runtime runs the file on random inputs of that size (batch 1 and 2) and the
largest difference to PyTorch's outputs is printed.
"""
import argparse

import torch

import mmhrformer  # noqa: F401  (registers our models, guards checkpoint loading)
from mmhrformer.deployment import build_inference_model, export_onnx, relative_difference
from mmhrformer.deployment.onnx_export import OPSET


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='an mmpretrain, mmpose or mmseg config')
    parser.add_argument('checkpoint', help="the model's weights (a Runner checkpoint)")
    parser.add_argument('out', help='the ONNX file to write')
    parser.add_argument('--example-size', type=int, nargs=2, default=(64, 64),
                        metavar=('H', 'W'), help='size of the image traced (default 64 64)')
    parser.add_argument('--check', type=int, nargs=2, metavar=('H', 'W'),
                        help='compare ONNX Runtime with PyTorch at this input size')
    parser.add_argument('--opset', type=int, default=OPSET)
    return parser.parse_args()


def main():
    args = parse_args()
    model = build_inference_model(args.config, args.checkpoint)
    out = export_onnx(model, args.out, tuple(args.example_size), opset=args.opset)
    print(f'wrote {out}')
    if args.check:
        for batch in (1, 2):
            inputs = torch.randn(batch, 3, *args.check)
            difference = relative_difference(model, out, inputs)
            print(f'input {tuple(inputs.shape)}: max |onnx - torch| / max |torch| = '
                  f'{difference:.2e}')


if __name__ == '__main__':
    main()
