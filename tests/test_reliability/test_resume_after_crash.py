"""A training run killed with SIGKILL after its first checkpoint, restarted with ``--resume``,
ends with exactly the weights of an uninterrupted run, and keeps every file it had written.

Both runs are mmpose's ``tools/train.py`` on the same config (``randomness=dict(seed=0,
deterministic=True)``, random flips and box jitter drawn in a data worker) in one-thread
processes. Tolerance: none, the weights are bitwise equal.
"""
import hashlib
import signal
import sys
import time
from pathlib import Path
from typing import Dict

import torch

from mmhrformer.checkpoint import load_checkpoint_file
from .conftest import CONFIG, finish, mmpose_train_script, start, train_args

POLL_SECONDS = 0.05


def snapshot(work_dir: Path) -> Dict[str, str]:
    """Relative path -> sha256 of every file under ``work_dir``."""
    return {str(path.relative_to(work_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(work_dir.rglob('*')) if path.is_file()}


def newest_checkpoint(work_dir: Path) -> str:
    """What ``last_checkpoint`` names (written after the checkpoint), or ``''``."""
    pointer = work_dir / 'last_checkpoint'
    return pointer.read_text().strip() if pointer.exists() else ''


def kill_after_first_checkpoint(process, work_dir: Path, timeout: float = 300) -> None:
    """SIGKILL once ``last_checkpoint`` names a checkpoint."""
    deadline = time.monotonic() + timeout
    while not newest_checkpoint(work_dir):
        assert process.poll() is None, 'the run ended before writing a checkpoint'
        assert time.monotonic() < deadline, 'no checkpoint within the timeout'
        time.sleep(POLL_SECONDS)
    assert process.poll() is None, 'the run finished before it could be killed'
    process.send_signal(signal.SIGKILL)
    process.wait()


def final_weights(work_dir: Path) -> Dict[str, torch.Tensor]:
    return load_checkpoint_file(str(work_dir / 'epoch_3.pth'))['state_dict']


def test_killed_run_resumes_to_the_uninterrupted_weights_and_keeps_its_files(coco_root,
                                                                             tmp_path):
    command = [sys.executable, mmpose_train_script()]
    whole, crashed = tmp_path / 'whole', tmp_path / 'crashed'
    uninterrupted = start(command + train_args(whole, coco_root), tmp_path / 'whole.log')
    killed = start(command + train_args(crashed, coco_root), tmp_path / 'killed.log')
    kill_after_first_checkpoint(killed, crashed)
    before = snapshot(crashed)
    complete = newest_checkpoint(crashed)

    resumed_log = tmp_path / 'resumed.log'
    finish(start(command + train_args(crashed, coco_root) + ['--resume'], resumed_log),
           resumed_log)
    finish(uninterrupted, tmp_path / 'whole.log')

    assert f'Auto resumed from the latest checkpoint {complete}' in resumed_log.read_text()
    expected, actual = final_weights(whole), final_weights(crashed)
    assert expected.keys() == actual.keys()
    assert not [key for key in expected if not torch.equal(expected[key], actual[key])]
    first = load_checkpoint_file(complete)['state_dict']
    assert not all(torch.equal(first[key], actual[key]) for key in first), 'nothing trained'

    after = snapshot(crashed)
    assert not set(before) - set(after), 'files written before the crash are gone'
    # Rewritten by design: the pointer to the newest checkpoint, the Runner's copy of the config
    # (now with resume=True), and a checkpoint that was being written when the run was killed.
    complete_name = Path(complete).name
    kept = {path for path in before if path not in ('last_checkpoint', CONFIG.name)
            and (not path.endswith('.pth') or path == complete_name)}
    assert complete_name in kept and any(path.endswith('.log') for path in kept)
    assert [path for path in kept if before[path] != after[path]] == []
