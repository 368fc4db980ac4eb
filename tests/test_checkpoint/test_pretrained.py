"""``HRFormer(init_cfg=dict(type='Pretrained', checkpoint=...))``: a published file is converted,
fitted and loaded strictly; what does not fit is an error that names the keys."""
import logging
import os

import pytest
import torch
from mmengine.logging import MMLogger

from mmhrformer.checkpoint import (CheckpointKeysError, UnsafeCheckpointError, convert_state_dict,
                                   resize_relative_position_bias_table)
from mmhrformer.models import HRFormer

from .pretrained_files import NANO, mmpose_state, official_state, save


@pytest.fixture(scope='module')
def official():
    return official_state()


def initialised(checkpoint, **kwargs) -> HRFormer:
    model = HRFormer(NANO, init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint),
                                         **kwargs.pop('init', {})), **kwargs)
    model.init_weights()
    return model


def assert_holds(model, expected):
    state = model.state_dict()
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_official_classifier_file_loads_without_its_head(official, tmp_path):
    model = initialised(save(official, tmp_path / 'hrt.pth'))
    assert_holds(model, convert_state_dict(official, 'official', backbone_only=True))


def test_mmpose_file_loads(tmp_path):
    state = mmpose_state()
    model = initialised(save(state, tmp_path / 'mmpose.pth', 'state_dict'))
    assert_holds(model, convert_state_dict(state, 'mmpose', backbone_only=True))


def test_a_toolbox_checkpoint_of_ours_loads_its_backbone(official, tmp_path):
    """Keys under ``backbone.`` are taken (the head's are not the backbone's), or ``prefix``."""
    ours = convert_state_dict(official, 'official', backbone_only=True)
    whole = {**{f'backbone.{k}': v for k, v in ours.items()}, 'head.fc.weight': torch.zeros(2)}
    save(whole, tmp_path / 'ours.pth', 'state_dict')
    assert_holds(initialised(tmp_path / 'ours.pth'), ours)
    assert_holds(initialised(tmp_path / 'ours.pth', init=dict(prefix='backbone')), ours)
    with pytest.raises(CheckpointKeysError, match=r"no key under prefix='neck\.'"):
        initialised(tmp_path / 'ours.pth', init=dict(prefix='neck'))


@pytest.mark.parametrize('drop,named', [
    ('layer1.0.conv1.weight', 'stage1.0.conv1.weight'),  # reported in our layout
    ('stage3.0.branches.2.1.mlp.fc1.bias', 'stage3.0.branches.2.1.ffn.fc1.bias'),
    ('stage2.0.branches.1.0.attn.attn.k_proj.weight', 'stage2.0.branches.1.0.attn.attn.k_proj'),
])
def test_a_file_missing_a_key_fails_naming_it(official, drop, named, tmp_path):
    save({k: v for k, v in official.items() if k != drop}, tmp_path / 'short.pth')
    with pytest.raises(CheckpointKeysError, match=named.replace('.', r'\.')):
        initialised(tmp_path / 'short.pth')


@pytest.mark.parametrize('extra,named', [
    # maps to our layout (where it is reported), but the model has no third block, no 5th stream
    ('stage2.0.branches.0.2.norm1.weight', 'stage2.0.branches.0.2.norm1.weight'),
    ('transition3.4.0.weight', 'transition3.4.conv.weight'),
    ('stage2.0.branches.0.0.mlp.fc4.weight', 'stage2.0.branches.0.0.mlp.fc4.weight'),  # unmapped
])
def test_a_file_with_an_extra_key_fails_naming_it(official, extra, named, tmp_path):
    save({**official, extra: torch.zeros(1)}, tmp_path / 'long.pth')
    with pytest.raises(CheckpointKeysError, match=named.replace('.', r'\.')):
        initialised(tmp_path / 'long.pth')


def test_a_tensor_of_another_shape_fails_naming_it(official, tmp_path):
    key = 'stage4.0.branches.3.1.mlp.fc2.weight'
    save({**official, key: torch.zeros(1, 1, 1, 1)}, tmp_path / 'other.pth')
    with pytest.raises(CheckpointKeysError, match=r'ffn\.fc2\.weight: \(1, 1, 1, 1\) in the file'):
        initialised(tmp_path / 'other.pth')


@pytest.mark.parametrize('window_size', [15, (13, 13, 15, 15)])
def test_larger_windows_start_from_window_7_tables_resized(official, window_size, tmp_path):
    model = initialised(save(official, tmp_path / 'hrt.pth'), window_size=window_size)
    expected = convert_state_dict(official, 'official', backbone_only=True)
    tables = [k for k in expected if k.endswith('relative_position_bias_table')]
    for key in tables:
        stream = int(key.split('.branches.')[1].split('.')[0])
        window = model.window_sizes[stream]
        expected[key] = resize_relative_position_bias_table(expected[key], 2 * window - 1)
        assert expected[key].shape[0] == (2 * window - 1)**2
    assert_holds(model, expected)


def test_a_model_without_position_bias_leaves_the_tables_saying_so(official, tmp_path):
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        model = initialised(save(official, tmp_path / 'hrt.pth'), with_rpe=False)
    finally:
        logger.removeHandler(handler)
    expected = convert_state_dict(official, 'official', backbone_only=True)
    tables = [k for k in expected if k.endswith('relative_position_bias_table')]
    assert_holds(model, {k: v for k, v in expected.items() if k not in tables})
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any(f'with_rpe=False): the {len(tables)} tables' in w for w in warnings), warnings


def test_a_model_with_position_bias_needs_the_tables(official, tmp_path):
    save({k: v for k, v in official.items() if not k.endswith('relative_position_bias_table')},
         tmp_path / 'no_tables.pth')
    with pytest.raises(CheckpointKeysError,
                       match=r'missing \[.*stage2\.0\.branches\.0\.0\.attn\.relative_position'):
        initialised(tmp_path / 'no_tables.pth')


def test_a_file_of_no_hrformer_layout_is_refused(tmp_path):
    save({'features.0.weight': torch.zeros(1)}, tmp_path / 'other.pth')
    with pytest.raises(CheckpointKeysError, match=r"cannot tell the key layout.*features\.0"):
        initialised(tmp_path / 'other.pth')


def test_a_file_that_would_run_code_is_not_loaded(official, tmp_path):
    torch.save({'model': official, 'hook': os.getcwd}, tmp_path / 'unsafe.pth')
    with pytest.raises(UnsafeCheckpointError, match='unsafe.pth'):
        initialised(tmp_path / 'unsafe.pth')


def test_a_pretrained_entry_in_a_list_of_init_cfgs_is_loaded_the_same_way(official, tmp_path):
    save(official, tmp_path / 'hrt.pth')
    model = HRFormer(NANO, init_cfg=[dict(type='Kaiming', layer='Conv2d'),
                                     dict(type='Pretrained', checkpoint=str(tmp_path / 'hrt.pth'))])
    model.init_weights()
    assert_holds(model, convert_state_dict(official, 'official', backbone_only=True))
