"""The demo, run by ``make demo`` (pose) and ``make demo-cls`` (classification).

Pose: generate COCO-format figures (``data/demo/coco``), score the untrained model with
``mim test``, train it with ``mim train``, score it again, and draw its predicted skeletons on
held-out images with mmpose's visualizer (``work_dirs/demo_pose/predictions.png``).
Classification: the same with generated shapes and top-1 accuracy.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config

import mmhrformer  # noqa: F401  (registers our models)
from mmhrformer.synthetic import write_classification_set, write_coco_keypoints

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'projects/demo/configs'
MIM = str(Path(sys.executable).with_name('mim'))
TASKS = {
    'pose': dict(toolbox='mmpose', metric='coco/AP', epochs=20,
                 config=CONFIGS / 'td-hm_hrformer-mini_1xb32-20e_synthcoco-128x96.py'),
    'cls': dict(toolbox='mmpretrain', metric='accuracy/top1', epochs=12,
                config=CONFIGS / 'hrformer-mini_1xb32-12e_shapes-64px.py'),
}


def mim(*args) -> str:
    """Runs a mim command from the repository root, showing its output; returns the output."""
    print('$ mim', ' '.join(args), flush=True)
    process = subprocess.Popen([MIM, *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        if 'Build settings' not in line:  # torch's build flags: one very long line per run
            print(line, end='', flush=True)
        lines.append(line)
    if process.wait():
        sys.exit(f'mim {args[0]} failed (exit code {process.returncode})')
    return ''.join(lines)


def last_metric(log: str, name: str) -> float:
    return float(re.findall(rf'{re.escape(name)}: ([\d.]+)', log)[-1])


def make_data(task: str) -> None:
    if task == 'pose':
        if not (ROOT / 'data/demo/coco').exists():
            root = str(ROOT / 'data/demo/coco')
            write_coco_keypoints(root, {'train2017': 800}, max_people=1)
            write_coco_keypoints(root, {'val2017': 64}, max_people=2)
    elif not (ROOT / 'data/demo/shapes').exists():
        # 400 images per class: with fewer, the model learns the training images by heart.
        write_classification_set(str(ROOT / 'data/demo/shapes'), {'train': 400, 'val': 50})


def save_untrained_checkpoint(config: Path, toolbox: str, path: Path) -> Path:
    """The freshly initialised model of the config, to measure where training starts from."""
    import importlib
    registry = importlib.import_module(f'{toolbox}.registry').MODELS
    torch.manual_seed(0)
    model = registry.build(Config.fromfile(str(config)).model)
    model.init_weights()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def draw_predictions(config: Path, checkpoint: Path, out: Path, count: int = 8) -> None:
    """Predicted skeletons on the first held-out images, drawn by mmpose's visualizer, in a grid."""
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples
    from PIL import Image

    model = init_model(str(config), str(checkpoint), device='cpu')
    # mmpose's OpenCV drawing calls int() on 1-element arrays, an error with numpy >= 2.4.
    visualizer = VISUALIZERS.build(dict(model.cfg.visualizer, radius=2, line_width=2,
                                        backend='matplotlib'))
    visualizer.set_dataset_meta(model.dataset_meta)
    data = ROOT / 'data/demo/coco'
    annotations = json.loads((data / 'annotations/person_keypoints_val2017.json').read_text())
    panels = []
    for image in annotations['images'][:count]:
        boxes = np.array([a['bbox'] for a in annotations['annotations']
                          if a['image_id'] == image['id']])
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        path = str(data / 'val2017' / image['file_name'])
        samples = merge_data_samples(inference_topdown(model, path, boxes, bbox_format='xyxy'))
        rgb = np.asarray(Image.open(path).convert('RGB'))
        visualizer.add_datasample('prediction', rgb, data_sample=samples, draw_gt=False,
                                  draw_bbox=True, show=False)
        panels.append(visualizer.get_image())
    height, width = panels[0].shape[:2]
    grid = np.zeros((2 * height, (count + 1) // 2 * width, 3), np.uint8)
    for index, panel in enumerate(panels):
        row, col = divmod(index, (count + 1) // 2)
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = panel
    Image.fromarray(grid).save(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='pose')
    name = parser.parse_args().task
    task = TASKS[name]
    config, toolbox, metric = task['config'], task['toolbox'], task['metric']
    work_dir = ROOT / f'work_dirs/demo_{name}'
    make_data(name)
    untrained = save_untrained_checkpoint(config, toolbox, work_dir / 'untrained.pth')
    before = last_metric(mim('test', toolbox, str(config), '--checkpoint', str(untrained),
                             '--work-dir', str(work_dir / 'untrained')), metric)
    mim('train', toolbox, str(config), '--work-dir', str(work_dir))
    trained = work_dir / f"epoch_{task['epochs']}.pth"
    after = last_metric(mim('test', toolbox, str(config), '--checkpoint', str(trained),
                            '--work-dir', str(work_dir / 'trained')), metric)
    if name == 'pose':
        draw_predictions(config, trained, work_dir / 'predictions.png')
        print(f'predicted skeletons on held-out images: {work_dir / "predictions.png"}')
    print(f'{metric} on held-out generated images: untrained {before:.3f}, trained {after:.3f}')


if __name__ == '__main__':
    main()
