"""Converts an mmpose or official HRFormer checkpoint for mmhrformer's models.

    python tools/convert_checkpoint.py SRC DST --from mmpose|official|mmhrformer [--backbone-only]
        [--trust]

SRC must be a plain checkpoint (tensors and the types torch.load(weights_only=True) allows); with
--trust, a file you trust that holds more (pickled objects: unpickling them runs their code) is
read too. DST always is a plain checkpoint.
"""
import argparse

from mmhrformer.checkpoint import CheckpointReadError, UnsafeCheckpointError
from mmhrformer.checkpoint.convert import convert_checkpoint


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--from', dest='source', required=True,
                        choices=['mmpose', 'official', 'mmhrformer'],
                        help="mmpose 1.x's HRFormer, the official HRNet/HRFormer code (cls, pose "
                             'or seg fork), or our own layout (keys kept: a plain copy)')
    parser.add_argument('--backbone-only', action='store_true',
                        help="keep only the backbone's weights, without the 'backbone.' prefix "
                             "(for init_cfg=dict(type='Pretrained', checkpoint=DST))")
    parser.add_argument('--trust', action='store_true',
                        help='read SRC even if it holds pickled objects beyond tensors: this runs '
                             'any code in the file, so only for files from a source you trust')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        settings = convert_checkpoint(args.src, args.dst, args.source, args.backbone_only,
                                      args.trust)
    except (UnsafeCheckpointError, CheckpointReadError) as error:
        raise SystemExit(f'error: {error}')
    print(f'wrote {args.dst}')
    if settings:
        print('build the backbone with these arguments to reproduce the source: '
              + ', '.join(f'{k}={v!r}' for k, v in settings.items()))


if __name__ == '__main__':
    main()
