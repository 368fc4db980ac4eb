"""The OpenMMLab stack that the set-up installs imports and runs its compiled ops on the CPU."""
import importlib

import pytest
import torch


@pytest.mark.parametrize('toolbox', ['mmengine', 'mmcv', 'mmpretrain', 'mmpose', 'mmseg', 'mmdet'])
def test_toolbox_imports_with_its_models(toolbox):
    module = importlib.import_module(toolbox)
    assert module.__version__
    if toolbox not in ('mmengine', 'mmcv'):
        importlib.import_module(f'{toolbox}.models')


def test_mmcv_compiled_ops_run_on_cpu():
    from mmcv.ops import nms, roi_align
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    features = torch.arange(16.).view(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 3., 3.]])
    pooled = roi_align(features, rois, (1, 1), 1.0, 2, 'avg', True)
    # aligned=True shifts the box by half a pixel: samples at 0.25 and 1.75 on each axis of the
    # map f(y, x) = 4y + x, whose bilinear interpolation is exact, so the mean is 4 * 1 + 1.
    assert pooled.shape == (1, 1, 1, 1)
    assert pooled.item() == pytest.approx(5.0)


def test_mmhrformer_version():
    import mmhrformer
    assert mmhrformer.__version__.count('.') == 2
