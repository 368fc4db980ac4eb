"""Derived tensors kept between inference calls: reused while their sources are unchanged, made
anew whenever a source changes, never kept while autograd records."""
import copy
import io

import pytest
import torch
import torch.nn as nn

from mmhrformer.models.backbones import HRFormer
from mmhrformer.models.layers import LocalWindowAttention
from mmhrformer.models.layers.batch_norm_folding import _fold, folded_conv_params
from mmhrformer.models.layers.inference_cache import cached_at_inference


def conv_and_norm():
    torch.manual_seed(0)
    conv, norm = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4).eval()
    norm.running_mean.normal_()
    norm.running_var.uniform_(0.5, 2.)
    return conv, norm


def assert_fold_is_fresh(conv, norm):
    with torch.no_grad():
        weight, bias = folded_conv_params(conv, norm)
        expected_weight, expected_bias = _fold(conv, norm)
    torch.testing.assert_close(weight, expected_weight, rtol=0, atol=0)
    torch.testing.assert_close(bias, expected_bias, rtol=0, atol=0)


def test_fold_is_reused_while_its_sources_are_unchanged():
    conv, norm = conv_and_norm()
    with torch.no_grad():
        first = folded_conv_params(conv, norm)
        second = folded_conv_params(conv, norm)
    assert second is first


@pytest.mark.parametrize('change', [
    'weight changed in place', 'optimizer step', 'load_state_dict', 'running stats updated',
    'parameter replaced', 'eps changed', 'cast to float64'])
def test_fold_follows_every_change_of_its_sources(change):
    conv, norm = conv_and_norm()
    assert_fold_is_fresh(conv, norm)
    if change == 'weight changed in place':
        with torch.no_grad():
            conv.weight.mul_(2)
    elif change == 'optimizer step':
        optimizer = torch.optim.SGD([*conv.parameters(), *norm.parameters()], lr=0.5)
        (conv(torch.randn(2, 3, 4, 4)).sum() + norm.weight.sum()).backward()
        optimizer.step()
    elif change == 'load_state_dict':
        state = {k: v + 1 if v.is_floating_point() else v for k, v in norm.state_dict().items()}
        norm.load_state_dict(state)
    elif change == 'running stats updated':
        norm.train()(torch.randn(2, 4, 3, 3) * 3 + 1)
        norm.eval()
    elif change == 'parameter replaced':
        norm.bias = nn.Parameter(torch.randn(4))
    elif change == 'eps changed':
        norm.eps = 0.5
    else:
        conv.double(), norm.double()
    assert_fold_is_fresh(conv, norm)


def test_nothing_is_kept_while_gradients_are_recorded():
    conv, norm = conv_and_norm()
    with torch.no_grad():
        kept = folded_conv_params(conv, norm)
    weight, bias = folded_conv_params(conv, norm)  # grad mode: made anew, with a graph
    assert weight is not kept[0] and weight.requires_grad
    (weight.sum() + bias.sum()).backward()
    assert conv.weight.grad is not None and norm.weight.grad is not None


def test_tensors_made_under_inference_mode_are_not_cached():
    owner = nn.Module()
    with torch.inference_mode():
        source = torch.ones(3)
        first = cached_at_inference(owner, 'double', [source], lambda: source * 2)
        source.add_(1)  # inference tensors change without counting it
        second = cached_at_inference(owner, 'double', [source], lambda: source * 2)
    assert second is not first and second.tolist() == [4., 4., 4.]


def test_position_bias_follows_an_optimizer_step():
    attention = LocalWindowAttention(8, 2, window_size=3)
    with torch.no_grad():
        before = attention.position_bias()
        assert attention.position_bias() is before
    optimizer = torch.optim.SGD(attention.parameters(), lr=1.)
    attention.position_bias().sum().backward()
    optimizer.step()
    with torch.no_grad():
        after = attention.position_bias()
    assert not torch.equal(after, before)
    torch.testing.assert_close(after, attention._gather_position_bias(), rtol=0, atol=0)


def tiny_hrformer():
    arch = dict(channels=(4, 8, 8, 8), num_heads=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2),
                num_modules=(1, 1, 1), num_blocks=(1, 1, 1), stem_channels=8, stage1_blocks=1)
    return HRFormer(arch=arch, window_size=3, init_cfg=None)


@pytest.mark.parametrize('training', ['optimizer step', 'running averages only'])
def test_backbone_inference_after_training_equals_a_fresh_copy(training, split):
    torch.manual_seed(0)
    model, x = tiny_hrformer(), torch.randn(2, 3, 24, 24)
    model.eval()
    with torch.no_grad():
        model(x)  # fills the caches
    model.train()
    if training == 'optimizer step':
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        sum(out.sum() for out in model(x)).backward()
        optimizer.step()
    else:
        with torch.no_grad():
            model(x * 2 + 1)
    model.eval()
    fresh = tiny_hrformer()
    fresh.load_state_dict(model.state_dict())
    fresh.eval()
    with torch.no_grad():
        for ours, expected in zip(model(x), fresh(x)):
            torch.testing.assert_close(ours, expected, rtol=0, atol=0)


def test_a_model_with_kept_tensors_deep_copies_and_saves():
    torch.manual_seed(0)
    model, x = tiny_hrformer().eval(), torch.randn(1, 3, 24, 24)
    with torch.no_grad():
        model(x)
        clone = copy.deepcopy(model)
        for param in clone.parameters():
            param.mul_(0.5)
        fresh = tiny_hrformer().eval()
        fresh.load_state_dict(clone.state_dict())
        for ours, expected in zip(clone(x), fresh(x)):
            torch.testing.assert_close(ours, expected, rtol=0, atol=0)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    assert buffer.tell() > 0
