"""The benchmark's command, end to end at a tiny size."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ['HRFormer-T', 'HRFormer-T plain', 'mmpose HRFormer-T', 'HRNet-W18']


def _rows(text: str, heading: str) -> dict:
    """The table under ``## heading``: ``{model: {column: cell}}``."""
    lines = text.split(f'## {heading}\n\n')[1].split('\n\n')[0].splitlines()
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    return {cells[0]: dict(zip(header, cells)) for cells in (
        [cell.strip() for cell in line.strip('|').split('|')] for line in lines[2:])}


def test_command_measures_every_model_and_writes_the_report(tmp_path):
    out = tmp_path / 'benchmark.md'
    run = subprocess.run(
        [sys.executable, 'tools/benchmark.py', '--models', *MODELS, '--size', '64x64',
         '--batch', '1', '--warmup', '0', '--repeats', '1', '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # tiny maps: threads would only wait
    assert run.returncode == 0, run.stderr[-3000:]
    text = out.read_text()
    assert text in run.stdout
    training = _rows(text, 'Memory and work of a training step (any device)')
    assert list(training) == MODELS
    for row in training.values():
        assert 0 < float(row['kept for backward (MiB)']) <= float(row['peak live (MiB)'])
        assert float(row['GFLOPs']) > 0
    assert training['HRFormer-T']['backbone params (M)'] == '2.52'
    assert training['HRNet-W18']['vs HRNet'] == '-'
    assert training['HRFormer-T']['vs HRNet'].endswith('x')
    ops = _rows(text, 'aten ops dispatched')
    assert int(ops['HRFormer-T']['aten ops, inference'].replace(',', '')) > 100
    for row in ops.values():  # folding takes the BatchNorms out of every model
        folded = int(row['aten ops, inference, BN folded'].replace(',', ''))
        assert folded < int(row['aten ops, inference'].replace(',', ''))
    times = _rows(text, 'Times')
    assert set(times['HRFormer-T']) >= {'inference (ms)', 'inference, BN folded (ms)',
                                        'speed vs mmpose port as built', 'training step (ms)'}
    assert 'compiled inference (ms)' not in times['HRFormer-T']  # no --compile
