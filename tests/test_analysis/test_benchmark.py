"""The benchmark runs end to end on small inputs and reports what it measured."""
import subprocess
import sys
from pathlib import Path

import pytest

from mmhrformer.analysis.benchmark import Runner, measure_peak_memory, measure_timings
from mmhrformer.analysis.benchmark_models import build_backbone

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('name,params', [('mmpose HRFormer-T', 2.52e6), ('HRNet-W18', 9.3e6)])
def test_models_built_from_mmpose_have_the_published_sizes(name, params):
    model = build_backbone(name)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(params, rel=0.01)


@pytest.mark.parametrize('name', ['HRFormer-T', 'mmpose HRFormer-T', 'HRNet-W18'])
def test_models_build_whatever_default_scope_the_caller_left(name):
    """A Runner leaves mmengine's default scope set; each toolbox's names must still resolve."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmengine'):
        assert build_backbone(name) is not None


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(KeyError, match="'HRFormer-X'.*HRFormer-S"):
        build_backbone('HRFormer-X')


def test_timings_and_memory_cover_every_model_and_size():
    names, sizes = ['HRFormer-T', 'HRNet-W18'], [(64, 64), (96, 96)]  # HRNet: multiples of 32
    timings = measure_timings(names, sizes, batch=2, runner=Runner(), warmup=0, repeats=1)
    for name in names:
        result = timings[name]
        assert len(result['latency']) == len(result['flops']) == len(sizes)
        assert result['flops'][1] > result['flops'][0] > 0
        assert result['batch_time'] > 0 and result['train_step'] > 0
    memory = measure_peak_memory(['HRFormer-T'], sizes[0], 2, Runner())
    assert set(memory['HRFormer-T']) == {'train', 'train_unpooled', 'infer'}
    for figure in memory['HRFormer-T'].values():
        assert figure > 100  # MB: the libraries and the model at least


def test_command_writes_the_table_and_the_plot(tmp_path):
    subprocess.run([sys.executable, str(ROOT / 'tools/benchmark.py'), '--models', 'HRFormer-T',
                    'mmpose HRFormer-T', 'HRNet-W18', '--sizes', '64x64', '96x64', '--batch', '2',
                    '--warmup', '0', '--repeats', '1', '--no-memory', '--out-dir', str(tmp_path)],
                   check=True, cwd=ROOT, capture_output=True)
    table = (tmp_path / 'benchmark.md').read_text()
    assert '| HRFormer-T | 2.52 |' in table
    assert 'speed vs mmpose port' in table and 'How FLOPs are counted' in table
    assert (tmp_path / 'benchmark.png').stat().st_size > 10_000
