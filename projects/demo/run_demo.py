"""The demo: generate the shapes set, test an untrained HRFormer, train it with ``mim train``,
test it again with ``mim test``. Run from the repository root: ``make demo``."""
import re
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmhrformer  # noqa: F401  (registers our models)
from mmhrformer.synthetic import write_classification_set

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'projects/demo/configs/hrformer-mini_1xb16-8e_shapes-64px.py'
DATA = ROOT / 'data/demo/shapes'
WORK_DIR = ROOT / 'work_dirs/demo'
MIM = str(Path(sys.executable).with_name('mim'))


def mim(*args) -> str:
    """Runs a mim command, showing its output, and returns that output."""
    print('$ mim', ' '.join(args), flush=True)
    process = subprocess.run([MIM, *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    print(process.stdout, flush=True)
    if process.returncode:
        sys.exit(f'mim {args[0]} failed (exit code {process.returncode})')
    return process.stdout


def top1(log: str) -> float:
    return float(re.findall(r'accuracy/top1: ([\d.]+)', log)[-1])


def save_untrained_checkpoint(path: Path) -> Path:
    """The freshly initialised model of the config, to measure where training starts from."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIG)).model)
    model.init_weights()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def main():
    if not DATA.exists():
        write_classification_set(str(DATA), {'train': 64, 'val': 32})
    untrained = save_untrained_checkpoint(WORK_DIR / 'untrained.pth')
    before = top1(mim('test', 'mmpretrain', str(CONFIG), '--checkpoint', str(untrained),
                      '--work-dir', str(WORK_DIR / 'untrained')))
    mim('train', 'mmpretrain', str(CONFIG), '--work-dir', str(WORK_DIR))
    after = top1(mim('test', 'mmpretrain', str(CONFIG), '--checkpoint',
                     str(WORK_DIR / 'epoch_8.pth'), '--work-dir', str(WORK_DIR / 'trained')))
    print(f'top-1 accuracy on held-out images: untrained {before:.1f}%, trained {after:.1f}%')


if __name__ == '__main__':
    main()
