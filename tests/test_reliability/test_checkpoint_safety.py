"""A checkpoint crafted to run code when unpickled is refused on every path that loads weights,
without running it; a damaged one gets an error that names the file; running a trusted file's
code takes an explicit opt-in."""
import argparse
import functools
import http.server
import itertools
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmhrformer.checkpoint import (CheckpointReadError, UnsafeCheckpointError,
                                   convert_checkpoint, load_checkpoint_file)
from mmhrformer.models import HRFormer

ROOT = Path(__file__).resolve().parents[2]
RUNNER_COUNT = itertools.count()
TINY_ARCH = dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                 num_modules=[1, 1, 1], num_blocks=[1, 1, 1], stem_channels=8, stage1_blocks=1)


class WritesMarker:
    """Unpickled, runs ``exec`` of code that writes ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({str(self.marker)!r}, "w").write("ran")', )


class Linear(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, mode='tensor'):
        return self.linear(inputs)


def runner(work_dir: Path, **kwargs) -> Runner:
    # a unique experiment name: runners of one process would otherwise share a MessageHub
    return Runner(model=Linear(), work_dir=str(work_dir),
                  experiment_name=f'safety_{next(RUNNER_COUNT)}', **kwargs)


@pytest.fixture(autouse=True)
def weights_only_protection_on(monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)


@pytest.fixture(params=['zip', 'legacy'])
def hostile(request, tmp_path) -> Path:
    """A checkpoint with weights and, in ``meta``, an object that writes ``tmp_path/marker``,
    in torch's zip format or its legacy one."""
    path = tmp_path / 'hostile.pth'
    torch.save({'state_dict': Linear().state_dict(), 'meta': WritesMarker(tmp_path / 'marker')},
               path, _use_new_zipfile_serialization=request.param == 'zip')
    return path


@pytest.fixture(params=['truncated', 'random bytes'])
def damaged(request, tmp_path) -> Path:
    whole = tmp_path / 'whole.pth'
    torch.save({'state_dict': HRFormer(TINY_ARCH).state_dict()}, whole)
    data = (whole.read_bytes()[:1000] if request.param == 'truncated'
            else random.Random(0).randbytes(5000))
    path = tmp_path / 'damaged.pth'
    path.write_bytes(data)
    return path


@pytest.fixture
def served(tmp_path, monkeypatch):
    """``name -> http://127.0.0.1:port/name`` for the files of ``tmp_path``, with torch.hub's
    download cache in ``tmp_path/torch_home``."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield lambda name: f'http://127.0.0.1:{server.server_port}/{name}'
    server.shutdown()
    server.server_close()


#: What a Runner needs to resume (an optimizer and a schedule to restore).
TRAINING = dict(train_dataloader=dict(dataset=[], sampler=dict(type='DefaultSampler'),
                                      batch_size=1, collate_fn=dict(type='default_collate')),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                train_cfg=dict(by_epoch=False, max_iters=1))


def load_from(path: str, work_dir: Path) -> None:
    runner(work_dir, load_from=path).load_or_resume()


def resume_latest(path: str, work_dir: Path) -> None:
    """``--resume`` without a path: the Runner reads the newest checkpoint from last_checkpoint."""
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(path)
    runner(work_dir, resume=True, **TRAINING).load_or_resume()


def resume_from(path: str, work_dir: Path) -> None:
    runner(work_dir, resume=True, load_from=path, **TRAINING).load_or_resume()


def pretrained_backbone(path: str, work_dir: Path) -> None:
    HRFormer(TINY_ARCH, init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()


def convert(path: str, work_dir: Path) -> None:
    convert_checkpoint(path, str(work_dir / 'converted.pth'), 'mmhrformer')


LOADERS = [load_from, resume_latest, resume_from, pretrained_backbone, convert]


def assert_refused_as_not_plain(error: Exception, path: str) -> None:
    message = str(error)
    assert f'{path} is not a plain checkpoint' in message
    assert 'exec' in message  # what torch found outside the allow-list
    assert 'convert_checkpoint.py' in message and '--trust' in message  # how to proceed
    assert error.__suppress_context__  # no pickle traceback above ours


@pytest.mark.parametrize('loader', LOADERS, ids=lambda loader: loader.__name__)
def test_code_carrying_checkpoint_is_refused_without_running(loader, hostile, tmp_path):
    with pytest.raises(UnsafeCheckpointError) as refused:
        loader(str(hostile), tmp_path / 'work')
    assert not (tmp_path / 'marker').exists()
    assert_refused_as_not_plain(refused.value, str(hostile))


def test_code_carrying_checkpoint_behind_a_url_is_refused_without_running(hostile, tmp_path,
                                                                          served):
    """mmengine downloads through torch.hub, whose loader defaults to weights_only=False."""
    with pytest.raises(UnsafeCheckpointError) as refused:
        load_from(served(hostile.name), tmp_path / 'work')
    assert not (tmp_path / 'marker').exists()
    cached = tmp_path / 'torch_home/hub/checkpoints' / hostile.name
    assert_refused_as_not_plain(refused.value, str(cached))


@pytest.mark.parametrize('hostile', ['zip'], indirect=True)
def test_converter_tool_refuses_it_with_a_message_and_no_traceback(hostile, tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/convert_checkpoint.py', str(hostile), str(tmp_path / 'out.pth'),
         '--from', 'mmpose'], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert not (tmp_path / 'marker').exists() and not (tmp_path / 'out.pth').exists()
    assert f'{hostile} is not a plain checkpoint' in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('loader', [load_from, pretrained_backbone, convert],
                         ids=lambda loader: loader.__name__)
def test_damaged_checkpoint_error_names_the_file(loader, damaged, tmp_path):
    with pytest.raises(CheckpointReadError, match=f'{damaged} is not a checkpoint') as error:
        loader(str(damaged), tmp_path / 'work')
    assert error.value.__suppress_context__  # no zipfile or pickle traceback above ours


def test_trust_runs_the_code_and_writes_a_plain_copy(hostile, tmp_path):
    """The opt-in for a file one trusts: convert once, then load the plain copy anywhere."""
    plain = tmp_path / 'plain.pth'
    convert_checkpoint(str(hostile), str(plain), 'mmhrformer', trust=True)
    assert (tmp_path / 'marker').exists()  # trusting a file means running its code
    expected = torch.load(hostile, weights_only=False)['state_dict']
    state = torch.load(plain, weights_only=True)['state_dict']
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], expected[key]) for key in state)


def test_torch_switch_still_loads_a_trusted_file_for_one_job(tmp_path, monkeypatch):
    """``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (e.g. to resume a trusted run as it is) keeps
    working through our loader; here with an object that official training scripts save."""
    path = tmp_path / 'with_args.pth'
    torch.save({'state_dict': Linear().state_dict(), 'args': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(UnsafeCheckpointError, match='argparse.Namespace'):
        load_checkpoint_file(str(path))
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    assert load_checkpoint_file(str(path))['args'].lr == 0.1
