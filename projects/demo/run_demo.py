"""The demo, run by ``make demo`` (pose), ``make demo-cls`` (classification) and ``make demo-seg``
(semantic segmentation).

Pose: generate COCO-format figures (``data/demo/coco``), score the untrained model with
``mim test``, train it with ``mim train``, score it again, and draw its predicted skeletons on
held-out images with mmpose's visualizer (``work_dirs/demo_pose/predictions.png``), then run
mmpose's own inferencer with the trained model on a real photograph (``photo/astronaut.png``).
Classification: the same with generated shapes and top-1 accuracy.
Segmentation: the same with generated Pascal-Context-59-style scenes (``data/demo/context``) and
mIoU; the predicted masks are drawn beside the true ones (``work_dirs/demo_seg/predictions.png``).
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
from PIL import Image

import mmhrformer  # noqa: F401  (registers our models)
from mmhrformer.deployment.inferencers import astronaut_photo, build_inferencer, infer_and_draw
from mmhrformer.synthetic import write_classification_set, write_coco_keypoints
from mmhrformer.synthetic.segmentation import write_segmentation_set

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'projects/demo/configs'
MIM = str(Path(sys.executable).with_name('mim'))


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


def write_figures(root: str) -> None:
    """800 training images of one stick figure, 64 held-out images of one or two."""
    write_coco_keypoints(root, {'train2017': 800}, max_people=1)
    write_coco_keypoints(root, {'val2017': 64}, max_people=2)


def write_shapes(root: str) -> None:
    """400 training and 50 held-out images per class: with fewer, the model learns the training
    images by heart."""
    write_classification_set(root, {'train': 400, 'val': 50})


def write_scenes(root: str) -> None:
    """1000 training and 100 held-out 64x64 scenes of textured shapes, Pascal Context's layout."""
    write_segmentation_set(root, 'pascal_context_59', {'train': 1000, 'val': 100}, size=(64, 64))


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


def save_grid(panels: list, out: Path, zoom: int = 1) -> None:
    """Saves the (H, W, 3) uint8 RGB panels in two rows, each pixel drawn ``zoom`` times wider and
    higher."""
    height, width = panels[0].shape[:2]
    columns = (len(panels) + 1) // 2
    grid = np.zeros((2 * height, columns * width, 3), np.uint8)
    for index, panel in enumerate(panels):
        row, col = divmod(index, columns)
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = panel
    Image.fromarray(grid.repeat(zoom, axis=0).repeat(zoom, axis=1)).save(out)


def draw_skeletons(config: Path, checkpoint: Path, data: Path, out: Path, count: int = 8) -> None:
    """Predicted skeletons on the first held-out images, drawn by mmpose's visualizer, in a grid."""
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples

    model = init_model(str(config), str(checkpoint), device='cpu')
    # mmpose's OpenCV drawing calls int() on 1-element arrays, an error with numpy >= 2.4.
    visualizer = VISUALIZERS.build(dict(model.cfg.visualizer, radius=2, line_width=2,
                                        backend='matplotlib'))
    visualizer.set_dataset_meta(model.dataset_meta)
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
    save_grid(panels, out)


def draw_masks(config: Path, checkpoint: Path, data: Path, out: Path, count: int = 8) -> None:
    """The first held-out images, each beside its true and its predicted masks drawn by mmseg's
    visualizer, in a grid, three times enlarged."""
    from mmengine.structures import PixelData
    from mmseg.apis import inference_model, init_model
    from mmseg.visualization import SegLocalVisualizer

    model = init_model(str(config), str(checkpoint), device='cpu')
    visualizer = SegLocalVisualizer(name='demo_seg', alpha=1.0)
    # by keyword: SegLocalVisualizer's own constructor passes the two swapped
    visualizer.set_dataset_meta(classes=model.dataset_meta['classes'],
                                palette=model.dataset_meta['palette'])
    names = (data / 'ImageSets/SegmentationContext/val.txt').read_text().split()[:count]
    panels = []
    for name in names:
        path = str(data / 'JPEGImages' / f'{name}.jpg')
        sample = inference_model(model, path)
        labels = np.asarray(Image.open(data / 'SegmentationClassContext' / f'{name}.png'))
        # reduce_zero_label, as in the config: 1..59 -> 0..58, 0 (background) -> 255 (ignored)
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(labels - 1)[None])
        drawings = [np.asarray(Image.open(path).convert('RGB'))]
        for truth in (True, False):
            visualizer.add_datasample(name, drawings[0], data_sample=sample, draw_gt=truth,
                                      draw_pred=not truth, with_labels=False)
            drawings.append(visualizer.get_image())
        panels.append(np.concatenate(drawings, axis=1))
    save_grid(panels, out, zoom=3)


def draw_on_photo(config: Path, checkpoint: Path, out_dir: Path) -> Path:
    """The toolbox's own inferencer with the model on scikit-image's astronaut photograph (a
    person, nothing like the generated data); returns the PNG it draws."""
    inferencer = build_inferencer(config, checkpoint)
    return infer_and_draw(inferencer, astronaut_photo(), out_dir)[1]


TASKS = {
    'pose': dict(toolbox='mmpose', metric='coco/AP', epochs=20, data=('coco', write_figures),
                 draw=draw_skeletons,
                 config=CONFIGS / 'td-hm_hrformer-mini_1xb32-20e_synthcoco-128x96.py'),
    'cls': dict(toolbox='mmpretrain', metric='accuracy/top1', epochs=12,
                data=('shapes', write_shapes), draw=None,
                config=CONFIGS / 'hrformer-mini_1xb32-12e_shapes-64px.py'),
    'seg': dict(toolbox='mmseg', metric='mIoU', epochs=10, data=('context', write_scenes),
                draw=draw_masks,
                config=CONFIGS / 'fcn_hrformer-mini_1xb16-10e_synthcontext-64x64.py'),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='pose')
    name = parser.parse_args().task
    task = TASKS[name]
    config, toolbox, metric = task['config'], task['toolbox'], task['metric']
    work_dir = ROOT / f'work_dirs/demo_{name}'
    folder, write = task['data']
    data = ROOT / 'data/demo' / folder  # the configs' data_root
    if not data.exists():  # generated on first use
        write(str(data))
    untrained = save_untrained_checkpoint(config, toolbox, work_dir / 'untrained.pth')
    before = last_metric(mim('test', toolbox, str(config), '--checkpoint', str(untrained),
                             '--work-dir', str(work_dir / 'untrained')), metric)
    mim('train', toolbox, str(config), '--work-dir', str(work_dir))
    trained = work_dir / f"epoch_{task['epochs']}.pth"
    after = last_metric(mim('test', toolbox, str(config), '--checkpoint', str(trained),
                            '--work-dir', str(work_dir / 'trained')), metric)
    if task['draw']:
        task['draw'](config, trained, data, work_dir / 'predictions.png')
        print(f'predictions on held-out images: {work_dir / "predictions.png"}')
    photo = draw_on_photo(config, trained, work_dir / 'photo')
    print(f'the trained model on a real photograph (drawn by the toolbox\'s inferencer): {photo}')
    print(f'{metric} on held-out generated images: untrained {before:.3f}, trained {after:.3f}')


if __name__ == '__main__':
    main()
