"""A small pose config and generated COCO-format data, and how the tests start mmpose's training
script on them in other processes, as a user would."""
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from mmengine.registry import DefaultScope

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).parent / 'configs/td-hm_hrformer-nano_1xb4-3e_synthcoco-64x48.py'
MIM = str(Path(sys.executable).with_name('mim'))


def mmpose_train_script() -> str:
    """The ``tools/train.py`` that ``mim train mmpose`` runs."""
    import mmpose
    return str(Path(mmpose.__file__).parent / '.mim/tools/train.py')


def train_args(work_dir: Path, data_root: Path) -> List[str]:
    """The config, work dir and data root arguments of mmpose's training script."""
    return [str(CONFIG), '--work-dir', str(work_dir),
            '--cfg-options', f'train_dataloader.dataset.data_root={data_root}/']


def start(command: List[str], log: Path) -> subprocess.Popen:
    """Starts ``command`` from the repository root with its output in ``log``: on the CPU with
    one thread per process, whatever the machine, and with the repository importable (the config
    imports ``tests.test_reliability``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    with open(log, 'w') as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    """Waits for ``process`` and fails with the end of its log if it failed."""
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    assert code == 0, f'exit code {code}; end of {log}:\n' + log.read_text()[-4000:]


@pytest.fixture(scope='session')
def coco_root(tmp_path_factory) -> Path:
    """16 generated 96x128 training images, one figure each."""
    from mmhrformer.synthetic import write_coco_keypoints
    return write_coco_keypoints(str(tmp_path_factory.mktemp('coco')), {'train2017': 16},
                                size=(96, 128), max_people=1)


@pytest.fixture(autouse=True)
def default_scope_restored():
    """Runners and ``init_default_scope`` leave their toolbox's scope current for the rest of the
    process, where tests of other folders build from other registries."""
    with DefaultScope.overwrite_default_scope('mmengine'):
        yield
