"""Same weights in, same features out: mmpose 1.3.2's HRFormer -> converter -> ours."""
import pytest
import torch
from mmengine.hub import get_config

from mmhrformer.checkpoint import convert_mmpose, convert_state_dict
from mmhrformer.models import HRFormer

MMPOSE_CONFIGS = {
    arch: ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
           f'td-hm_hrformer-{arch}_8xb32-210e_coco-256x192.py')
    for arch in ('small', 'base')
}


def build_mmpose_backbone(arch, drop_path_rate=None):
    """mmpose's HRFormer as its COCO config builds it (SyncBN -> BN for one process)."""
    from mmpose.registry import MODELS
    cfg = get_config(MMPOSE_CONFIGS[arch]).model.backbone
    cfg.norm_cfg = dict(type='BN', requires_grad=True)
    if drop_path_rate is not None:
        cfg.extra.drop_path_rate = drop_path_rate
    return MODELS.build(cfg)


def perturb(model, seed=0):
    """Moves every weight and BatchNorm statistic away from its initial value."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith('running_var'):
                tensor.copy_(0.5 + noise.abs())
            else:
                tensor.add_(0.05 * noise)
    model.eval()  # mmpose's HRNet.train() returns None, so this is not chained
    return model


def relative_difference(ours, theirs):
    return ((ours - theirs).norm() / theirs.norm()).item()


@pytest.fixture(scope='module', params=['small', 'base'])
def both_models(request):
    torch.manual_seed(0)
    theirs = perturb(build_mmpose_backbone(request.param))
    ours = HRFormer(request.param, out_indices=(0, )).eval()
    ours.load_state_dict(convert_mmpose(theirs.state_dict()), strict=True)
    return ours, theirs


@pytest.mark.parametrize('height,width', [(256, 192), (224, 224), (320, 160)])
def test_same_weights_give_the_same_highest_resolution_map(both_models, height, width):
    ours, theirs = both_models
    x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(x)[0]
        actual = ours(x)[0]
    assert actual.shape == expected.shape
    assert relative_difference(actual, expected) < 1e-4


def test_full_pose_model_keeps_the_head_and_prefix():
    theirs = build_mmpose_backbone('small')
    state = {f'backbone.{k}': v for k, v in theirs.state_dict().items()}
    state['head.final_layer.weight'] = torch.zeros(17, 32, 1, 1)
    converted = convert_state_dict(state, 'mmpose')
    assert converted['head.final_layer.weight'] is state['head.final_layer.weight']
    assert 'backbone.stem.0.conv.weight' in converted


def test_unmappable_keys_are_listed():
    state = build_mmpose_backbone('small').state_dict()
    state['extra_layer.weight'] = torch.zeros(1)
    state['stage2.0.branches.0.0.attn.attn.gate.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"2 checkpoint keys cannot be mapped.*'extra_layer.weight'"):
        convert_mmpose(state)


@pytest.mark.parametrize('memory_saving', [True, False])
def test_same_weights_give_the_same_gradients_in_training(memory_saving):
    """Forward and backward in training mode (batch statistics; the plain blocks and the
    memory-saving ones): the input's and every weight's gradient equal mmpose's. In float64: in
    float32, batch statistics over two images amplify rounding differences to ~1e-2 through 16
    blocks."""
    torch.manual_seed(0)
    theirs = perturb(build_mmpose_backbone('small', drop_path_rate=0.)).double()
    ours = HRFormer('small', out_indices=(0, ), memory_saving=memory_saving).double()
    ours.load_state_dict(convert_mmpose(theirs.state_dict()), strict=True)
    theirs.train()
    ours.train()
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(1), dtype=torch.double)
    weights = torch.randn(2, 32, 32, 24, generator=torch.Generator().manual_seed(2),
                          dtype=torch.double)
    grads = {}
    for name, model in (('ours', ours), ('theirs', theirs)):
        inputs = x.clone().requires_grad_()
        out = model(inputs)[0]
        torch.testing.assert_close(out.shape, weights.shape)
        (out * weights).sum().backward()
        grads[name] = inputs.grad
    assert relative_difference(grads['ours'], grads['theirs']) < 1e-10
    theirs_grads = dict(theirs.state_dict())
    theirs_grads.update({name: p.grad for name, p in theirs.named_parameters()})
    expected = convert_mmpose(theirs_grads)
    for name, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], rtol=1e-7, atol=1e-10, msg=name)
