"""The benchmark runs end to end on small inputs and reports what it measured."""
import mmap
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmhrformer.analysis import benchmark
from mmhrformer.analysis.benchmark import (KEPT_HEAP_ENV, Runner, _minor_page_faults,
                                           measure_peak_memory, measure_timings,
                                           median_batch_times_elsewhere, median_train_steps)
from mmhrformer.analysis.benchmark_models import build_backbone
from mmhrformer.analysis.benchmark_report import compiled_table

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
        assert result['batch_time'] > 0 and result['batch_time_kept_heap'] > 0
        assert result['train_step'] > 0 and result['train_step_kept_heap'] > 0
        assert result['train_step_page_faults'] >= 0
        assert result['train_step_kept_heap_page_faults'] >= 0
    memory = measure_peak_memory(['HRFormer-T'], sizes[0], 2, Runner())
    assert set(memory['HRFormer-T']) == {'train', 'train_unpooled', 'train_kept_heap', 'infer'}
    for figure in memory['HRFormer-T'].values():
        assert figure > 100  # MB: the libraries and the model at least


def test_training_steps_are_timed_in_rounds_of_fresh_processes(monkeypatch):
    """Every round starts a process per model; the figures are the medians over the rounds."""
    start, started = benchmark._start_worker, []

    def start_worker(target, args, env):
        started.append(args[0])  # the model's name
        return start(target, args, env)
    monkeypatch.setattr(benchmark, '_start_worker', start_worker)
    steps = median_train_steps(['HRFormer-T'], (64, 48), 2, Runner(), warmup=0, repeats=1,
                               rounds=2)
    assert started == ['HRFormer-T', 'HRFormer-T']
    seconds, faults = steps['HRFormer-T']
    assert seconds > 0 and faults >= 0
    with pytest.raises(ValueError, match='rounds=0'):
        median_train_steps(['HRFormer-T'], (64, 48), 2, Runner(), warmup=0, repeats=1, rounds=0)


def test_command_writes_the_table_and_the_plot(tmp_path):
    subprocess.run([sys.executable, str(ROOT / 'tools/benchmark.py'), '--models', 'HRFormer-T',
                    'mmpose HRFormer-T', 'HRNet-W18', '--sizes', '64x64', '96x64', '--batch', '2',
                    '--warmup', '0', '--repeats', '1', '--train-rounds', '1', '--no-memory',
                    '--out-dir', str(tmp_path)], check=True, cwd=ROOT, capture_output=True)
    table = (tmp_path / 'benchmark.md').read_text()
    assert 'median over 1 round(s) of fresh processes' in table
    assert '| HRFormer-T | 2.52 |' in table
    assert 'speed vs mmpose port' in table and 'How FLOPs are counted' in table
    assert 'With glibc keeping its heap' in table
    assert table.count('page faults per train step') == 2  # as glibc comes, and the heap kept
    assert (tmp_path / 'benchmark.png').stat().st_size > 10_000


def test_compiled_inference_is_timed_beside_eager_in_a_fresh_process():
    """torch.compile with inductor (minutes of compiling on the CPU for even a small input)."""
    times = median_batch_times_elsewhere(['HRFormer-T'], (64, 48), 2, Runner(), warmup=1,
                                         repeats=1, variants=('eager', 'compiled'))
    assert set(times) == {'HRFormer-T'} and set(times['HRFormer-T']) == {'eager', 'compiled'}
    assert all(seconds > 0 for seconds in times['HRFormer-T'].values())
    with pytest.raises(ValueError, match=r"\['jit'\] are not among \['compiled', 'eager'\]"):
        median_batch_times_elsewhere(['HRFormer-T'], (64, 48), 2, Runner(), 0, 1,
                                     variants=('jit', ))


def test_command_adds_the_compiled_table_on_request(tmp_path):
    """The same model, input and batch as the test above: inductor's cache serves its graph."""
    subprocess.run([sys.executable, str(ROOT / 'tools/benchmark.py'), '--models', 'HRFormer-T',
                    '--sizes', '64x48', '--batch', '2', '--warmup', '1', '--repeats', '1',
                    '--train-rounds', '1', '--no-memory', '--compile', '--out-dir', str(tmp_path)],
                   check=True, cwd=ROOT, capture_output=True)
    table = (tmp_path / 'benchmark.md').read_text()
    assert '## Compiled inference (torch.compile)' in table
    assert 'compiled speed vs eager' in table and '| HRFormer-T | ' in table.split('Compiled')[1]


def test_compiled_table_compares_compiled_models_with_each_other():
    timings = {name: dict(batch_time_beside_compiled=eager, batch_time_compiled=compiled)
               for name, eager, compiled in (('HRFormer-S', 0.6, 0.5),
                                             ('mmpose HRFormer-S', 1.0, 0.4),
                                             ('HRNet-W32', 0.9, 0.6))}
    rows = compiled_table(timings, batch=8)
    assert rows[2] == '| HRFormer-S | 13.3 | 16.0 | 1.20x | 0.80x | 1.20x |'
    assert rows[3] == '| mmpose HRFormer-S | 8.0 | 20.0 | 2.50x | - | 1.50x |'


# Three 25 MB blocks made, written and freed, six times over; prints the page faults of each round.
_HEAP_ROUNDS = """
import ctypes, resource
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 25 * 2**20
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [libc.malloc(size) for _ in range(3)]
    for block in blocks:
        ctypes.memset(block, 1, size)
    for block in blocks:
        libc.free(block)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults_per_round(env):
    run = subprocess.run([sys.executable, '-c', _HEAP_ROUNDS], env={**os.environ, **env},
                         check=True, capture_output=True, text=True)
    return [int(line) for line in run.stdout.split()]


def test_kept_heap_setting_spares_the_page_faults_of_a_heap_handed_back():
    """What the benchmark's kept-heap runs rely on: as glibc comes, 75 MB freed at the top of its
    heap go back to the system and every round faults its pages in again (19,200 of 4 KB);
    under KEPT_HEAP_ENV only the first round does."""
    as_it_comes = _faults_per_round({})
    kept = _faults_per_round(KEPT_HEAP_ENV)
    assert min(as_it_comes[1:]) > 15_000
    assert kept[0] > 15_000 and max(kept[1:]) < 500


def test_page_fault_count_sees_fresh_pages_taken():
    """The count the report gives per training step: writing 16 MB of freshly mapped memory
    faults in its 4096 pages of 4 KB (fewer only where the kernel maps larger pages)."""
    size = 16 * 2**20
    region = mmap.mmap(-1, size)
    before = _minor_page_faults()
    for page in range(0, size, 4096):
        region[page] = 1
    assert _minor_page_faults() - before >= size // 2**21  # at least one per 2 MB page
    region.close()
