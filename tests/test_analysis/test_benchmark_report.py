from mmhrformer.analysis.benchmark_report import MIB, TIMES, TRAINING, Column, report, table

RESULTS = {
    'HRFormer-S': dict(kept_bytes=600 * MIB, train_step_s=0.5),
    'HRFormer-S plain': dict(kept_bytes=1200 * MIB, train_step_s=0.4),
    'mmpose HRFormer-S': dict(kept_bytes=2000 * MIB, train_step_s=1.0),
    'HRNet-W32': dict(kept_bytes=1000 * MIB),
}


def test_sizes_are_divided_by_the_others_and_times_are_speeds():
    rows = table(RESULTS, [Column('kept_bytes', 'kept (MiB)', MIB, 0, ('hrnet', 'port')),
                           Column('train_step_s', 'step (ms)', 1e-3, 0, ('port', ), speed=True)])
    assert rows[0] == ('| model | kept (MiB) | vs HRNet | vs mmpose port | step (ms) | '
                       'speed vs mmpose port |')
    assert rows[2] == '| HRFormer-S | 600 | 0.60x | 0.30x | 500 | 2.00x |'
    assert rows[4] == '| mmpose HRFormer-S | 2,000 | 2.00x | - | 1,000 | - |'
    assert rows[5] == '| HRNet-W32 | 1,000 | - | 0.50x | - | - |'  # no time, no speed


def test_report_has_only_the_tables_of_figures_measured():
    text = report(RESULTS, 'Title', 'setting')
    assert text.startswith('# Title\n\nsetting\n')
    assert '## Times' in text and '## On the GPU' not in text and '## aten ops' not in text
    # only the columns some model has: of the training figures, the kept bytes
    assert table(RESULTS, TRAINING)[2] == '| HRFormer-S | 600 | 0.60x | 0.30x | 0.50x |'
    assert table(RESULTS, TIMES)[2] == '| HRFormer-S | 500 | 2.00x | - | 0.80x |'


def test_a_ratio_can_divide_by_another_figure_of_the_other_model():
    results = {'HRFormer-S': dict(inference_s=0.6, folded_inference_s=0.5),
               'mmpose HRFormer-S': dict(inference_s=0.8, folded_inference_s=0.7)}
    column = Column('folded_inference_s', 'folded (ms)', 1e-3, 0,
                    ('port', ('port', 'inference_s')), speed=True)
    rows = table(results, [column])
    assert rows[0] == ('| model | folded (ms) | speed vs mmpose port | '
                       'speed vs mmpose port as built |')
    assert rows[2] == '| HRFormer-S | 500 | 1.40x | 1.60x |'
    assert rows[3] == '| mmpose HRFormer-S | 700 | - | - |'
