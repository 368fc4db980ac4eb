"""The folded convolution units against the mmcv and torchvision classes they extend (or, in
the fusion's steps down, replace)."""
import copy

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from torch.utils._python_dispatch import TorchDispatchMode
from torchvision.models.resnet import Bottleneck

from mmhrformer.models.layers import FoldedBottleneck, FoldedConvModule, MultiResolutionFusion


def randomise_norms(module):
    for norm in module.modules():
        if isinstance(norm, nn.BatchNorm2d):
            nn.init.uniform_(norm.weight, 0.5, 1.5)
            nn.init.normal_(norm.bias)
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.)
    return module


def make_pair(folded_cls, reference_cls, *args, **kwargs):
    """A folded unit and the class it extends, with the same weights, in float64."""
    torch.manual_seed(0)
    folded = randomise_norms(folded_cls(*args, **kwargs)).double()
    reference = reference_cls(*args, **kwargs).double()
    reference.load_state_dict(folded.state_dict())
    return folded, reference


class BatchNormCalls(TorchDispatchMode):
    """Counts the batch-norm ops that run."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 'batch_norm' in func.__name__
        return func(*args, **(kwargs or {}))


UNITS = {
    'conv-bn-relu': (FoldedConvModule, ConvModule, (4, 6, 3),
                     dict(stride=2, padding=1, norm_cfg=dict(type='BN'))),
    'conv-bn': (FoldedConvModule, ConvModule, (4, 6, 1),
                dict(norm_cfg=dict(type='BN'), act_cfg=None)),
    'bottleneck-projection': (FoldedBottleneck, Bottleneck, (4, 2),
                              dict(downsample=nn.Sequential(nn.Conv2d(4, 8, 1, bias=False),
                                                            nn.BatchNorm2d(8)))),
    'bottleneck-identity': (FoldedBottleneck, Bottleneck, (8, 2), {}),
}


@pytest.mark.parametrize('unit', UNITS)
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_outputs_and_gradients_equal_the_class_it_extends(unit, mode):
    folded_cls, reference_cls, args, kwargs = UNITS[unit]
    folded, reference = make_pair(folded_cls, reference_cls, *args, **kwargs)
    folded.train(mode == 'train'), reference.train(mode == 'train')
    x = torch.randn(2, args[0], 9, 7, dtype=torch.double, requires_grad=True)
    actual, expected = folded(x), reference(x)
    torch.testing.assert_close(actual, expected)
    got = torch.autograd.grad(actual.sum(), [x, *folded.parameters()])
    want = torch.autograd.grad(expected.sum(), [x, *reference.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    torch.testing.assert_close(dict(folded.named_buffers()), dict(reference.named_buffers()))


@pytest.mark.parametrize('unit', UNITS)
def test_inference_runs_no_batch_norm_and_matches_in_float32(unit):
    folded_cls, reference_cls, args, kwargs = UNITS[unit]
    folded, reference = make_pair(folded_cls, reference_cls, *args, **kwargs)
    folded.float().eval(), reference.float().eval()
    x = torch.randn(2, args[0], 9, 7).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), BatchNormCalls() as counted:
        actual = folded(x)
    assert counted.calls == 0
    with torch.no_grad():
        torch.testing.assert_close(actual, reference(x), rtol=1e-5, atol=1e-5)


def test_conv_module_without_norm_or_activation_flags_runs_as_the_class_it_extends():
    folded, reference = make_pair(FoldedConvModule, ConvModule, 4, 6, 3, padding=1,
                                  norm_cfg=dict(type='BN'))
    folded.eval(), reference.eval()
    x = torch.randn(1, 4, 5, 5, dtype=torch.double)
    for flags in (dict(activate=False), dict(norm=False), dict(activate=False, norm=False)):
        torch.testing.assert_close(folded(x, **flags), reference(x, **flags))


def test_other_shortcuts_and_norms_run_as_the_class_it_extends():
    """A shortcut that is not a convolution and a BatchNorm, and norms without running
    statistics, take torchvision's own forward."""
    shortcut = nn.Sequential(nn.AvgPool2d(1), nn.Conv2d(4, 8, 1), nn.BatchNorm2d(8))
    folded, reference = make_pair(FoldedBottleneck, Bottleneck, 4, 2, downsample=shortcut)
    folded.eval(), reference.eval()
    x = torch.randn(1, 4, 5, 5, dtype=torch.double)
    torch.testing.assert_close(folded(x), reference(x))
    no_stats = copy.deepcopy(folded)
    for norm in no_stats.modules():
        if isinstance(norm, nn.BatchNorm2d):
            norm.track_running_stats, norm.running_mean, norm.running_var = False, None, None
    with BatchNormCalls() as counted:
        no_stats(x)
    assert counted.calls > 0


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_fusion_steps_down_equal_mmcvs_depthwise_separable_module(mode):
    """The fusion's stride-2 steps (stream 0 -> 2: with ReLU, then without) load the weights of
    mmcv's DepthwiseSeparableConvModule and compute what it does; at inference without norms."""
    torch.manual_seed(0)
    path = randomise_norms(MultiResolutionFusion((4, 6, 8)).paths['2'][0]).double()
    for step, act_cfg in zip(path, (dict(type='ReLU'), None)):
        channels = step.depthwise_conv.conv.in_channels, step.pointwise_conv.conv.out_channels
        reference = DepthwiseSeparableConvModule(
            *channels, 3, stride=2, padding=1, norm_cfg=dict(type='BN'), dw_act_cfg=None,
            pw_act_cfg=act_cfg).double()
        reference.load_state_dict(step.state_dict())
        step.train(mode == 'train'), reference.train(mode == 'train')
        x = torch.randn(2, channels[0], 9, 7, dtype=torch.double, requires_grad=True)
        with BatchNormCalls() as counted:
            actual = step(x)
        assert (counted.calls == 0) == (mode == 'eval')
        expected = reference(x)
        torch.testing.assert_close(actual, expected)
        got = torch.autograd.grad(actual.sum(), [x, *step.parameters()])
        want = torch.autograd.grad(expected.sum(), [x, *reference.parameters()])
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w)
