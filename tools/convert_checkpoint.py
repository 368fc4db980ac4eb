"""Converts an mmpose or official HRFormer checkpoint for mmhrformer's models.

    python tools/convert_checkpoint.py SRC DST --from mmpose|official [--backbone-only]
"""
import argparse

from mmhrformer.checkpoint.convert import convert_checkpoint


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--from', dest='source', required=True, choices=['mmpose', 'official'],
                        help="mmpose 1.x's HRFormer, or the official HRNet/HRFormer code "
                             '(cls, pose or seg fork)')
    parser.add_argument('--backbone-only', action='store_true',
                        help="keep only the backbone's weights, without the 'backbone.' prefix "
                             "(for init_cfg=dict(type='Pretrained', checkpoint=DST))")
    return parser.parse_args()


def main():
    args = parse_args()
    settings = convert_checkpoint(args.src, args.dst, args.source, args.backbone_only)
    print(f'wrote {args.dst}')
    if settings:
        print('build the backbone with these arguments to reproduce the source: '
              + ', '.join(f'{k}={v!r}' for k, v in settings.items()))


if __name__ == '__main__':
    main()
