"""Runs the toolbox's own inferencer (MMPoseInferencer, MMSegInferencer or
ImageClassificationInferencer) with a config and checkpoint on an image and draws the result.

    python tools/deployment/infer_image.py CONFIG CHECKPOINT [IMAGE] [--out-dir DIR]

Without IMAGE, scikit-image's astronaut.png (a real photograph of a person) is used. The PNG is
written to DIR (default work_dirs/inference); pose models take the whole image as the person box.
"""
import argparse

import mmhrformer  # noqa: F401  (registers our models, guards checkpoint loading)
from mmhrformer.deployment.inferencers import astronaut_photo, build_inferencer, infer_and_draw


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='an mmpose, mmseg or mmpretrain config')
    parser.add_argument('checkpoint', help="the model's weights")
    parser.add_argument('image', nargs='?', default=None, help='default: astronaut.png')
    parser.add_argument('--out-dir', default='work_dirs/inference')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def main():
    args = parse_args()
    inferencer = build_inferencer(args.config, args.checkpoint, args.device)
    _, png = infer_and_draw(inferencer, args.image or astronaut_photo(), args.out_dir)
    print(f'wrote {png}')


if __name__ == '__main__':
    main()
