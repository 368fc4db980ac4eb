"""mmengine Runners resume from and load their own checkpoints under torch's weights_only
default."""
import itertools
import os
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmhrformer  # noqa: F401  (allow-lists what mmengine writes)


RUNNER_COUNT = itertools.count()


class LinearRegression(BaseModel):

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, targets, mode='tensor'):
        outputs = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((outputs - targets)**2).mean())
        return outputs


class RandomPoints(Dataset):

    def __len__(self):
        return 32

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        inputs = torch.randn(4, generator=generator)
        return dict(inputs=inputs, targets=inputs.sum(0, keepdim=True))


def make_runner(work_dir, max_iters, **kwargs):
    # A unique experiment name: runners of one process would otherwise share a MessageHub.
    return Runner(
        experiment_name=f'{Path(work_dir).name}_{next(RUNNER_COUNT)}',
        model=LinearRegression(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=RandomPoints(), sampler=dict(type='DefaultSampler'),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        randomness=dict(seed=0),
        **kwargs)


@pytest.fixture(autouse=True)
def weights_only_protection_on(monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)


def test_runner_checkpoint_needs_exactly_our_allow_list(tmp_path):
    make_runner(tmp_path, 2).train()
    ours = {f'{g.__module__}.{g.__qualname__}'
            for g in mmhrformer.checkpoint.MMENGINE_CHECKPOINT_GLOBALS}
    allowed = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(tmp_path / 'iter_2.pth'))
    finally:
        torch.serialization.add_safe_globals(allowed)
    assert needed, 'mmengine checkpoints now load without the allow-list: it can go'
    assert set(needed) <= ours, f'not allow-listed: {set(needed) - ours}'
    assert 'builtins.getattr' not in needed


def test_runner_resumes_to_iteration_4_with_weights_only_on(tmp_path):
    make_runner(tmp_path, 2).train()
    resumed = make_runner(tmp_path, 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert (tmp_path / 'iter_4.pth').exists()
    checkpoint = torch.load(tmp_path / 'iter_4.pth')  # weights_only=True by default
    assert checkpoint['meta']['iter'] == 4
    losses, _ = checkpoint['message_hub']['log_scalars']['train/loss'].data
    assert len(losses) == 4  # the history of the first run came back with the resume


def test_load_from_plain_state_dict_and_pretrained_init(tmp_path):
    source = LinearRegression()
    torch.save(source.state_dict(), tmp_path / 'plain.pth')

    runner = make_runner(tmp_path / 'load_from', 1, load_from=str(tmp_path / 'plain.pth'))
    runner.load_or_resume()
    assert torch.equal(runner.model.linear.weight, source.linear.weight)

    pretrained = dict(type='Pretrained', checkpoint=str(tmp_path / 'plain.pth'))
    model = LinearRegression(init_cfg=pretrained)
    model.init_weights()
    assert torch.equal(model.linear.weight, source.linear.weight)


def test_code_carrying_checkpoint_is_still_refused(tmp_path):
    marker = tmp_path / 'marker'

    class Payload:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    torch.save({'state_dict': {}, 'meta': Payload()}, tmp_path / 'hostile.pth')
    with pytest.raises(Exception, match='[Ww]eights only load failed'):
        make_runner(tmp_path / 'run', 1, load_from=str(tmp_path / 'hostile.pth')).load_or_resume()
    assert not marker.exists()
