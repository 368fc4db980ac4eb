"""Classification data sets of shapes, in two on-disk formats of mmpretrain.

- a folder per class, ``root/{split}/{class}/{index}.png``, which ``CustomDataset`` reads with
  ``data_prefix=split`` (classes from the folder names);
- ImageNet's layout, ``root/train/{wnid}/*.JPEG``, ``root/val/*.JPEG`` and ``root/meta/{split}.txt``
  (``relative/path label`` per line), which ``ImageNet(split=...)`` reads, with ImageNet's labels
  0, 1, 2 for the shapes.

The class is visible only in the image: every shape is drawn at a random place, size and colour
over a random textured background.
"""
from pathlib import Path
from typing import Dict

import numpy as np
from PIL import Image, ImageDraw

from .seeding import split_rng

SHAPE_CLASSES = ('circle', 'square', 'triangle')


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    base = rng.integers(0, 256, 3)
    noise = rng.normal(0, 25, (size, size, 3))
    stripes = 20 * np.sin(np.arange(size) * rng.uniform(0.2, 1.0))[None, :, None]
    return Image.fromarray(np.clip(base + noise + stripes, 0, 255).astype(np.uint8))


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, rng: np.random.Generator, size: int):
    radius = rng.uniform(0.15, 0.35) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    if shape == 'circle':
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=color)
    elif shape == 'square':
        draw.rectangle([cx - radius, cy - radius, cx + radius, cy + radius], fill=color)
    else:
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)],
                     fill=color)


def _shape_image(rng: np.random.Generator, shape: str, size: int) -> Image.Image:
    image = _background(rng, size)
    _draw_shape(ImageDraw.Draw(image), shape, rng, size)
    return image


def write_classification_set(root: str, num_per_class: Dict[str, int], size: int = 64,
                             seed: int = 0) -> Path:
    """Writes ``num_per_class[split]`` PNG images of each class of :data:`SHAPE_CLASSES` per split.

    The same arguments give the same bytes. Returns ``root`` as a ``Path``.
    """
    root = Path(root)
    for split, count in sorted(num_per_class.items()):
        rng = split_rng(seed, split)
        for shape in SHAPE_CLASSES:
            folder = root / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                _shape_image(rng, shape, size).save(folder / f'{index:04d}.png')
    return root


def write_imagenet_set(root: str, num_per_class: Dict[str, int], size: int = 64,
                       seed: int = 0) -> Path:
    """Writes ``num_per_class['train' | 'val']`` JPEG images per shape in ImageNet's layout.

    The same arguments give the same bytes. Returns ``root`` as a ``Path``.
    """
    root = Path(root)
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    for split, count in sorted(num_per_class.items()):
        rng = split_rng(seed, split)
        lines = []
        for label, shape in enumerate(SHAPE_CLASSES):
            for index in range(count):
                if split == 'train':
                    path = f'n{label:08d}/n{label:08d}_{index}.JPEG'
                else:
                    path = f'ILSVRC2012_{split}_{label * count + index + 1:08d}.JPEG'
                (root / split / path).parent.mkdir(parents=True, exist_ok=True)
                _shape_image(rng, shape, size).save(root / split / path, quality=95)
                lines.append(f'{path} {label}')
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(lines) + '\n')
    return root
