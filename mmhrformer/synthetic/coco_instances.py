"""COCO detection and instance segmentation, drawn: ``root/annotations/instances_{split}.json`` +
``root/{split}/{image_id:012d}.jpg``, which mmdet's ``CocoDataset`` and ``CocoMetric`` read.

The file lists COCO's 80 categories (ids 1..80, in mmdet's order); the objects are polygons of the
first ``num_classes`` categories, each category with its own colour, over a noisy background.
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .coco_files import write_coco_splits
from .segmentation import class_look


def _categories() -> List[dict]:
    from mmdet.datasets import CocoDataset
    return [dict(id=index + 1, name=name, supercategory='thing')
            for index, name in enumerate(CocoDataset.METAINFO['classes'])]


def _polygon(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A convex polygon (5 to 8 corners around a random centre), ``N x 2``."""
    radius = rng.uniform(0.12, 0.3) * min(width, height)
    centre = rng.uniform([radius, radius], [width - radius, height - radius])
    angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(5, 9)))
    return centre + radius * rng.uniform(0.6, 1.0, (len(angles), 1)) * np.stack(
        [np.cos(angles), np.sin(angles)], axis=1)


def _image(rng: np.random.Generator, size: Tuple[int, int], num_classes: int):
    width, height = size
    image = Image.fromarray(np.clip(rng.normal(128, 30, (height, width, 3)), 0, 255)
                            .astype(np.uint8))
    draw = ImageDraw.Draw(image)
    objects = []
    for _ in range(rng.integers(1, 4)):
        category = int(rng.integers(num_classes)) + 1
        corners = _polygon(rng, width, height)
        colour = tuple(int(c) for c in class_look(category)[0])
        draw.polygon([tuple(p) for p in corners], fill=colour)
        x0, y0 = corners.min(0)
        x1, y1 = corners.max(0)
        area = 0.5 * abs(np.dot(corners[:, 0], np.roll(corners[:, 1], 1))
                         - np.dot(corners[:, 1], np.roll(corners[:, 0], 1)))
        objects.append(dict(category_id=category, bbox=[float(x0), float(y0), float(x1 - x0),
                                                        float(y1 - y0)],
                            area=float(area), segmentation=[corners.flatten().tolist()],
                            iscrowd=0))
    return image, objects


def write_coco_instances(root: str, num_images: Dict[str, int], size: Tuple[int, int] = (160, 128),
                         num_classes: int = 3, seed: int = 0) -> Path:
    """Writes ``num_images[split]`` images and ``annotations/instances_{split}.json`` per split.

    ``size`` is ``(width, height)``. The same arguments give the same bytes.
    """
    return write_coco_splits(root, num_images, 'instances_{split}.json', _categories(),
                             lambda rng: _image(rng, size, num_classes), seed)
