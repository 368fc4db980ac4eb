import pytest
import torch
import torch.nn as nn

from mmhrformer.models import HRFormer
from mmhrformer.models.layers import LocalWindowAttention

#: The paper's pose model sizes (Table 2: backbone + 1x1 heatmap conv to 17 keypoints), in M.
PAPER_POSE_PARAMS = {'tiny': 2.5, 'small': 7.8, 'base': 43.2}

TINY_CUSTOM = dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                   num_modules=[1, 1, 1], num_blocks=[1, 1, 1])


def count_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_pose_model_params_match_paper(arch):
    backbone = HRFormer(arch, out_indices=(0, ))
    head = nn.Conv2d(backbone.out_channels[0], 17, 1)
    total = (count_params(backbone) + count_params(head)) / 1e6
    assert abs(total - PAPER_POSE_PARAMS[arch]) < 0.1, f'{arch}: {total:.3f} M'


@pytest.mark.parametrize('alias,name', [('t', 'tiny'), ('S', 'small'), ('b', 'base')])
def test_short_aliases(alias, name):
    assert HRFormer(alias).arch == HRFormer(name).arch


@pytest.mark.parametrize('height,width', [(64, 64), (97, 131), (33, 45), (7, 7)])
def test_any_input_size_gives_four_finite_deterministic_maps(height, width):
    torch.manual_seed(0)
    model = HRFormer(TINY_CUSTOM).eval()
    x = torch.randn(2, 3, height, width)
    with torch.no_grad():
        outs, again = model(x), model(x)
    size = (height, width)
    for level, (out, repeat) in enumerate(zip(outs, again)):
        size = tuple(-(-s // 2) for s in size) if level else tuple(-(-s // 4) for s in size)
        assert out.shape == (2, TINY_CUSTOM['channels'][level], *size)
        assert torch.isfinite(out).all()
        assert torch.equal(out, repeat)


def test_out_indices_select_and_order_streams():
    model = HRFormer(TINY_CUSTOM, out_indices=(3, 0)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [32, 8]
    assert model.out_channels == (32, 8)


def test_pose_backbone_has_no_unused_parameters():
    model = HRFormer(TINY_CUSTOM, out_indices=(0, ))
    model(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_gradients_reach_every_parameter():
    model = HRFormer(TINY_CUSTOM, drop_path_rate=0.1)
    model.train()
    outs = model(torch.randn(2, 3, 40, 40))
    sum(o.sum() for o in outs).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


@pytest.mark.parametrize('frozen_stages', [0, 2, 4])
def test_frozen_stages_freeze_stem_stages_and_transitions(frozen_stages):
    model = HRFormer(TINY_CUSTOM, frozen_stages=frozen_stages)
    model.train()
    frozen = ['stem'] + [f'stage{i}' for i in range(1, frozen_stages + 1)] + \
             [f'transition{i}' for i in range(1, min(frozen_stages, 3) + 1)]
    for name, module in model.named_children():
        params = list(module.parameters())
        if name in frozen:
            assert not module.training and all(not p.requires_grad for p in params), name
        else:
            assert module.training and all(p.requires_grad for p in params), name


def test_frozen_stem_keeps_its_statistics_in_training():
    model = HRFormer(TINY_CUSTOM, frozen_stages=0)
    model.train()
    stats = model.stem[0].bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(stats, model.stem[0].bn.running_mean)


def test_norm_eval_keeps_batchnorm_in_eval_mode():
    model = HRFormer(TINY_CUSTOM, norm_eval=True)
    model.train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(not m.training for m in norms)
    assert all(m.training for m in model.modules() if isinstance(m, nn.LayerNorm))


@pytest.mark.parametrize('variant', [dict(memory_saving=False, with_cp=True),
                                     dict(memory_saving=True),
                                     dict(memory_saving=True, block_type='ConvBasicBlock'),
                                     dict(memory_saving=False, block_type='ConvBasicBlock',
                                          with_cp=True)])
def test_memory_saving_and_with_cp_give_the_plain_outputs_gradients_and_statistics(variant):
    """float64, drop path on (the same draws), BatchNorm in training."""
    plain = HRFormer(TINY_CUSTOM, drop_path_rate=0.2, memory_saving=False,
                     block_type=variant.get('block_type', 'HRFormerBlock')).double()
    other = HRFormer(TINY_CUSTOM, drop_path_rate=0.2, **variant).double()
    other.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 48, dtype=torch.double)
    steps = []
    for model in (plain, other):
        model.train()
        torch.manual_seed(3)
        out = model(x)
        sum(o.square().sum() for o in out).backward()
        steps.append([*out, *(p.grad for p in model.parameters()), *model.buffers()])
    assert len(steps[0]) == len(steps[1])
    for got, want in zip(steps[1], steps[0]):
        torch.testing.assert_close(got, want)


def test_memory_saving_builds_memory_saving_hrformer_blocks_only():
    from mmhrformer.models.layers import HRFormerBlock, MemorySavingHRFormerBlock
    blocks = [type(m) for m in HRFormer(TINY_CUSTOM).modules() if isinstance(m, HRFormerBlock)]
    assert blocks and set(blocks) == {MemorySavingHRFormerBlock}
    plain = [type(m) for m in HRFormer(TINY_CUSTOM, memory_saving=False).modules()
             if isinstance(m, HRFormerBlock)]
    assert set(plain) == {HRFormerBlock}


def test_drop_path_is_active_only_in_training():
    torch.manual_seed(0)
    model = HRFormer(TINY_CUSTOM, drop_path_rate=0.9, norm_eval=True)
    x = torch.randn(1, 3, 32, 32)
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])


@pytest.mark.parametrize('arch', [
    'small',  # 2 + 4 x 2 + 2 x 2 = 14 blocks along stream 0
    # Uneven modules and blocks per stage: 2 + 2 x 1 + 3 = 7 blocks along stream 0.
    dict(TINY_CUSTOM, num_modules=[1, 2, 1], num_blocks=[2, 1, 3])])
def test_drop_path_rate_rises_linearly_over_the_blocks(arch):
    """Along stream 0 (stages 2-4) block ``k`` of ``n`` drops with ``rate * k / (n - 1)``; a stream
    that starts in a later stage takes the rates of the blocks of stream 0 beside it."""
    model = HRFormer(arch, drop_path_rate=0.3)
    streams = [[] for _ in range(4)]
    for stage in (model.stage2, model.stage3, model.stage4):
        for module in stage:
            for s, branch in enumerate(module.branches):
                streams[s] += [block.drop_path.drop_prob for block in branch]
    per_stage = [m * b for m, b in zip(model.arch['num_modules'], model.arch['num_blocks'])]
    # Stream s runs through stages max(2, s + 1) to 4.
    assert [len(rates) for rates in streams] == [sum(per_stage), sum(per_stage),
                                                 sum(per_stage[1:]), per_stage[2]]
    expected = torch.linspace(0, 0.3, sum(per_stage)).tolist()
    for rates in streams:
        assert rates == pytest.approx(expected[len(expected) - len(rates):], abs=1e-7)


def test_conv_block_ablation_is_a_config_change():
    model = HRFormer(TINY_CUSTOM, block_type='ConvBasicBlock')
    assert not any('attn' in name for name, _ in model.named_parameters())
    outs = model(torch.randn(2, 3, 32, 32))
    assert len(outs) == 4


def test_lighter_stem_and_stage1_for_small_custom_variants():
    model = HRFormer({**TINY_CUSTOM, 'stem_channels': 16, 'stage1_blocks': 1})
    assert model.stem[1].conv.out_channels == 16 and len(model.stage1) == 1
    assert model.transition1[0].conv.in_channels == 64  # 4 x 16, the bottleneck's output
    assert [o.shape[1] for o in model(torch.randn(2, 3, 32, 32))] == TINY_CUSTOM['channels']


def test_per_stream_window_size():
    model = HRFormer(TINY_CUSTOM, window_size=[15, 7, 7, 7])
    assert model.stage2[0].branches[0][0].attn.window_size == (15, 15)
    assert model.stage2[0].branches[1][0].attn.window_size == (7, 7)


@pytest.mark.parametrize('kwargs,message', [
    (dict(arch='huge'), r"arch='huge' is not one of \['b', 'base', 's', 'small', 't', 'tiny'\]"),
    (dict(arch={k: v for k, v in TINY_CUSTOM.items() if k != 'num_heads'}),
     r"lacks the keys \['num_heads'\]"),
    (dict(arch={**TINY_CUSTOM, 'channels': [8, 16, 24]}), r"arch\['channels'\] must have 4 values"),
    (dict(arch={**TINY_CUSTOM, 'depth': 3}), r"unknown keys \['depth'\]"),
    (dict(arch={**TINY_CUSTOM, 'stem_channels': 0}),
     r"arch\['stem_channels'\] must be an int >= 1"),
    (dict(arch={**TINY_CUSTOM, 'num_heads': [3, 2, 2, 4]}), 'divisible'),
    (dict(out_indices=(0, 4)), r'out_indices \(0, 4\) has 4.*0\.\.3'),
    (dict(window_size=0), r'window_size must be an int >= 1.*got 0'),
    (dict(window_size=[7, 7]), r'window_size must be .*one per stream.*got \[7, 7\]'),
    (dict(frozen_stages=5), r'frozen_stages must be in \[-1, 4\], got 5'),
    (dict(upsample_mode='cubic'), "upsample_mode must be 'bilinear' or 'nearest', got 'cubic'"),
])
def test_bad_arguments_name_the_argument_and_the_valid_choices(kwargs, message):
    kwargs.setdefault('arch', TINY_CUSTOM)
    with pytest.raises((ValueError, TypeError), match=message):
        HRFormer(**kwargs)


def test_unknown_block_type_is_reported():
    with pytest.raises(KeyError, match="block_type='Transformer' is not registered"):
        HRFormer(TINY_CUSTOM, block_type='Transformer')


def test_every_batchnorm_folds_into_the_convolution_before_it():
    """mmcv's ``fuse_conv_bn`` (what the benchmark's folded inference runs, and a deployment)
    finds a convolution right before each BatchNorm and keeps the outputs."""
    from mmcv.cnn import fuse_conv_bn
    torch.manual_seed(0)
    model = HRFormer(arch='tiny')
    for norm in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        nn.init.uniform_(norm.weight, 0.5, 1.5)
        nn.init.normal_(norm.bias)
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.5, 2.)
    model.eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        expected = model(x)
        folded = fuse_conv_bn(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        for got, want in zip(folded(x), expected):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_inference_traces_into_one_torch_compile_graph():
    """torch.compile sees the whole backbone at once: no graph break (e.g. a host call on the
    fused-convolution path) splits it into pieces it optimises separately."""
    model = HRFormer(arch='tiny').eval()
    with torch.no_grad():
        explanation = torch._dynamo.explain(model)(torch.randn(1, 3, 64, 48))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_inductor_compiled_inference_equals_eager():
    """The backbone through torch.compile (inductor, weights frozen as for inference; minutes of
    compiling on the CPU) gives the eager model's four maps."""
    model = HRFormer(arch='tiny').eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad(), torch._inductor.config.patch(freezing=True):
        expected, actual = model(x), torch.compile(model)(x)
    assert len(actual) == len(expected) == 4
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_init_weights_reaches_the_attentions_own_initialisation():
    """mmengine calls a child's ``init_weights`` only through BaseModule containers: every
    window attention's position bias table is drawn (normal, std 0.02, as the official code
    draws it), not left at its zeros."""
    torch.manual_seed(0)
    model = HRFormer(arch='tiny')
    model.init_weights()
    tables = [m.relative_position_bias_table for m in model.modules()
              if isinstance(m, LocalWindowAttention)]
    assert len(tables) == 2 * (1 * 2 + 3 * 3 + 2 * 4)  # 2 blocks per stream and module
    values = torch.cat([t.detach().flatten() for t in tables])
    assert values.std().item() == pytest.approx(0.02, rel=0.05)
    assert abs(values.mean().item()) < 0.002
