"""The per-stream block benchmark runs on small maps and reports every stream."""
import subprocess
import sys

import pytest

from mmhrformer.analysis.block_benchmark import (STREAM_STRIDES, block_step_times, block_table,
                                                 build_blocks)
from .test_benchmark import ROOT


def test_every_stream_is_timed_forward_and_backward_for_ours_and_the_port():
    timings = block_step_times('tiny', size=(64, 48), batch=1, warmup=0, repeats=1)
    assert [t.stream for t in timings] == list(range(len(STREAM_STRIDES)))
    assert [t.channels for t in timings] == [18, 36, 72, 144]
    assert [t.map_size for t in timings] == [(16, 12), (8, 6), (4, 3), (2, 2)]
    for t in timings:
        assert min(*t.ours, *t.port) > 0
    table = block_table(timings)
    assert table.count('\n') == 1 + len(STREAM_STRIDES) and 'step speed vs port' in table


def test_blocks_have_the_variants_widths_and_the_same_parameter_count():
    blocks = build_blocks('base', 3)
    assert blocks['ours'].norm1.normalized_shape == (624, )
    assert (sum(p.numel() for p in blocks['ours'].parameters())
            == sum(p.numel() for p in blocks['port'].parameters()))
    with pytest.raises(ValueError, match="'huge'.*small"):
        build_blocks('huge', 0)


def test_command_line_prints_the_table():
    result = subprocess.run(
        [sys.executable, 'tools/benchmark_blocks.py', '--arch', 'tiny', '--size', '64x48',
         '--batch', '1', '--warmup', '0', '--repeats', '1'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert '| 3 | 144 | 2x2 |' in result.stdout
