"""The memory-saving block against the plain block: the same step, less kept, known extra work.

float64 throughout, so that rounding cannot hide a wrong term (a gradient through the batch
statistics is a small correction of the plain one).
"""
import os
import pickle
from contextlib import contextmanager

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model.utils import revert_sync_batchnorm
from torch.utils.flop_counter import FlopCounterMode

from mmhrformer.models.layers import HRFormerBlock, MemorySavingHRFormerBlock
from .test_hrformer_block import assert_all_close, make_block, training_step


def both_blocks(norm_cfg=dict(type='BN'), **kwargs):
    """A plain block and a memory-saving one with the same (perturbed) weights."""
    plain = make_block(norm_cfg=norm_cfg, **kwargs)
    saving = MemorySavingHRFormerBlock(16, num_heads=2, window_size=4, norm_cfg=norm_cfg,
                                       **kwargs).double()
    saving.load_state_dict(plain.state_dict())
    return plain, saving


def batch_norm_xd(block):
    """The block with its SyncBNs turned into mmengine's ``_BatchNormXd``, as a Runner in one
    process does."""
    block = revert_sync_batchnorm(block)
    assert type(block.ffn.norm1).__name__ == '_BatchNormXd'
    return block


@pytest.mark.parametrize('norm', ['BN', 'SyncBN as _BatchNormXd', 'BN momentum None'])
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_training_step_equals_the_plain_block(norm, mode):
    norm_cfg = dict(type='SyncBN') if 'SyncBN' in norm else dict(type='BN')
    if 'None' in norm:
        norm_cfg['momentum'] = None
    plain, saving = both_blocks(norm_cfg, drop_path=0.3 if mode == 'train' else 0.)
    if 'SyncBN' in norm:
        plain, saving = batch_norm_xd(plain), batch_norm_xd(saving)
    plain.train(mode == 'train')
    saving.train(mode == 'train')
    x = torch.randn(3, 16, 9, 6, dtype=torch.double, requires_grad=True)
    grad = torch.randn_like(x)
    torch.manual_seed(5)  # the same drop-path draws
    expected = training_step(plain, HRFormerBlock.__call__, x, grad)
    torch.manual_seed(5)
    actual = training_step(saving, HRFormerBlock.__call__, x, grad)
    assert_all_close(actual, expected)
    if mode == 'train':
        assert saving.ffn.norm1.num_batches_tracked == 1


def test_bf16_autocast_training_step_equals_the_plain_block():
    """Under bf16 autocast the convolutions and projections compute in bf16 in both blocks; the
    statistics come from the same bf16 maps. Tolerance: 2e-2 relative (about 5 bf16 ulps), on
    outputs and gradients."""
    plain, saving = (block.float() for block in both_blocks())
    x = torch.randn(3, 16, 9, 6, requires_grad=True)
    grad = torch.randn_like(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        expected = training_step(plain, HRFormerBlock.__call__, x, grad)
        actual = training_step(saving, HRFormerBlock.__call__, x, grad)
    assert actual[0].dtype == expected[0].dtype
    assert_all_close(actual, expected, rtol=2e-2, atol=2e-2)


def test_extra_flops_are_one_forward_pass_of_qkv_attention_fc1_and_dwconv():
    """The backward pass recomputes the attention's projections up to ``qkv`` and the FFN up to
    ``dwconv``, not ``proj`` nor ``fc2``: the step's FLOPs exceed the plain block's by the
    forward pass less those two layers."""
    plain, saving = both_blocks()
    x = torch.randn(2, 16, 14, 14, dtype=torch.double, requires_grad=True)

    def flops(run):
        counter = FlopCounterMode(display=False)
        with counter:
            run()
        return counter.get_flop_counts(), counter.get_total_flops()

    forward, forward_total = flops(lambda: plain(x))
    without = sum(sum(forward[f'HRFormerBlock.{name}'].values())
                  for name in ('attn.proj', 'ffn.fc2'))
    _, plain_step = flops(lambda: plain(x).sum().backward())
    _, saving_step = flops(lambda: saving(x).sum().backward())
    assert saving_step - plain_step == forward_total - without
    assert saving_step < 1.3 * plain_step


def test_inference_and_with_cp_run_the_plain_block():
    plain, saving = both_blocks()
    x = torch.randn(2, 16, 9, 6, dtype=torch.double)
    with torch.no_grad():
        torch.testing.assert_close(saving(x), plain(x), rtol=0, atol=0)
    saving.with_cp = plain.with_cp = True
    x.requires_grad_()
    grad = torch.randn_like(x)
    assert_all_close(training_step(saving, HRFormerBlock.__call__, x, grad),
                     training_step(plain, HRFormerBlock.__call__, x, grad), rtol=0, atol=0)


def _two_process_step(rank: int, init_file: str, out_dir: str) -> None:
    """One rank of the SyncBN comparison: the plain block (the stand-in SyncBN, which
    all-reduces its statistics with autograd) and the memory-saving one on this rank's batch;
    writes the step of each and the collectives the memory-saving step called."""
    from tests.test_reliability import cpu_distributed  # noqa: F401 (registers the stand-in)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    plain, saving = both_blocks(dict(type='SyncBN'))
    assert saving.ffn.norm1.synchronises_statistics  # the stand-in
    torch.manual_seed(10 + rank)
    x = torch.randn(2, 16, 9, 6, dtype=torch.double, requires_grad=True)
    grad = torch.randn_like(x)
    expected = training_step(plain, HRFormerBlock.__call__, x, grad)
    calls = []
    for name in ('all_gather', 'all_reduce'):
        original = getattr(dist, name)
        setattr(dist, name, lambda *args, _f=original, _n=name, **kw: calls.append(_n) or
                _f(*args, **kw))
    actual = training_step(saving, HRFormerBlock.__call__, x, grad)
    with open(os.path.join(out_dir, f'rank{rank}.pkl'), 'wb') as file:
        pickle.dump(dict(expected=expected, actual=actual, calls=calls), file)
    dist.destroy_process_group()


def test_syncbn_over_two_processes_equals_the_plain_block_and_syncs_once(tmp_path):
    """Two gloo processes, each with its own batch: the memory-saving block's step equals the
    plain block's on each rank, its statistics are those of both batches (equal on both ranks),
    and each of the FFN's three SyncBNs called one collective forward (the statistics) and one
    backward (the gradient sums), none in the recomputation."""
    mp.spawn(_two_process_step, args=(str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    ranks = []
    for rank in (0, 1):
        with open(tmp_path / f'rank{rank}.pkl', 'rb') as file:
            ranks.append(pickle.load(file))
    for result in ranks:
        assert_all_close(result['actual'], result['expected'])
        assert result['calls'] == ['all_gather'] * 3 + ['all_reduce'] * 3
    running_means = [r['actual'][-3] for r in ranks]  # norm3's running mean
    torch.testing.assert_close(running_means[0], running_means[1])


@contextmanager
def no_tf32_matmul():
    allowed = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = allowed


#: Each device here with the autocast dtypes it trains in (a GPU's only where there is one).
DEVICE_DTYPES = [('cpu', None), ('cpu', torch.bfloat16)] + (
    [('cuda', None), ('cuda', torch.float16), ('cuda', torch.bfloat16)]
    if torch.cuda.is_available() else [])


@pytest.mark.parametrize('device,dtype', DEVICE_DTYPES)
def test_backbone_training_step_equals_the_plain_one_on_each_device(device, dtype):
    """The whole backbone in float32, without or under autocast: the memory-saving model's
    outputs, gradients and statistics equal the plain model's (float32: 1e-4; autocast: 3e-2
    relative to each tensor's largest value, a few ulps of bf16 / fp16, or to 0.1 for the
    gradients that are rounding noise, those of the convolution biases before a BatchNorm)."""
    from mmhrformer.models import HRFormer
    arch = dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                num_modules=[1, 1, 1], num_blocks=[1, 1, 1])
    torch.manual_seed(0)
    plain = HRFormer(arch, memory_saving=False).to(device).train()
    saving = HRFormer(arch, memory_saving=True).to(device).train()
    saving.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 48, 40, device=device)
    steps = []
    for model in (plain, saving):
        # float32 in float32: no TensorFloat-32 products on a GPU (10-bit mantissas).
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False), no_tf32_matmul():
            with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
                out = model(x)
                loss = sum(o.float().square().mean() for o in out)
            loss.backward()
        steps.append([*out, *(p.grad for p in model.parameters()), *model.buffers()])
    tolerance = 1e-4 if dtype is None else 3e-2
    for want, got in zip(*steps):
        assert got.dtype == want.dtype
        if got.is_floating_point():
            scale = want.abs().max().clamp(min=0.1)
            assert (got - want).abs().max() <= tolerance * scale
        else:
            assert torch.equal(got, want)
