"""Models of our configs exported to ONNX give PyTorch's outputs in ONNX Runtime, at sizes and
batches other than the traced one, including sizes whose maps need window padding."""
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch

from mmhrformer.deployment import build_inference_model, export_onnx, relative_difference
from mmhrformer.deployment.onnx_export import TensorForward, check_example_pads_every_window

ROOT = Path(__file__).resolve().parents[2]
# 160 x 128: streams 40x32, 20x16, 10x8, 5x4; 97 x 61 (not a multiple of 32): 25x16, 13x8, 7x4,
# 4x2. Both need window padding at every stream, in other amounts than the traced 64 x 64.
SIZES = [(160, 128), (97, 61)]


@pytest.fixture(scope='module', params=['pose', 'seg', 'cls'])
def exported(request, random_checkpoints, tmp_path_factory):
    """(task, model, ONNX file) for each toolbox's model with random weights."""
    config, checkpoint = random_checkpoints[request.param]
    model = build_inference_model(config, checkpoint)
    path = export_onnx(model, tmp_path_factory.mktemp('onnx') / f'{request.param}.onnx')
    return request.param, model, path


@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('size', SIZES, ids=lambda s: f'{s[0]}x{s[1]}')
def test_onnxruntime_gives_pytorchs_outputs(exported, batch, size):
    task, model, path = exported
    torch.manual_seed(batch)
    inputs = torch.randn(batch, 3, *size)
    assert relative_difference(model, path, inputs) < 1e-4


def test_graph_has_dynamic_batch_height_and_width(exported):
    task, model, path = exported
    graph = onnx.load(str(path)).graph
    assert [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim] == [
        'batch', '', 'height', 'width']
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_value == 3
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == 'batch'


def test_example_without_window_padding_is_refused(exported):
    task, model, path = exported
    # 224 x 224: maps of 56, 28, 14 and 7, all multiples of the 7 x 7 windows
    with pytest.raises(ValueError, match=r'\(224, 224\).*56 x 56 map'):
        check_example_pads_every_window(TensorForward(model), torch.randn(1, 3, 224, 224))


def test_model_in_training_mode_is_refused(random_checkpoints, tmp_path):
    model = build_inference_model(*random_checkpoints['cls']).train()
    with pytest.raises(ValueError, match='evaluation mode'):
        export_onnx(model, tmp_path / 'model.onnx')


def test_export_tool_writes_a_file_that_matches_pytorch(random_checkpoints, tmp_path):
    config, checkpoint = random_checkpoints['cls']
    out = tmp_path / 'cls.onnx'
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools/deployment/export_onnx.py'), str(config),
         str(checkpoint), str(out), '--check', '97', '61'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.is_file()
    differences = [float(line.rsplit('= ', 1)[1]) for line in result.stdout.splitlines()
                   if 'max |onnx - torch|' in line]
    assert len(differences) == 2 and max(differences) < 1e-4, result.stdout
