"""An ImageNet-style folder data set of shapes: ``root/{split}/{class}/{index}.png``.

mmpretrain's ``CustomDataset`` reads it with ``data_prefix=split`` (classes from the folder names).
The class is visible only in the image: every shape is drawn at a random place, size and colour
over a random textured background.
"""
from pathlib import Path
from typing import Dict

import numpy as np
from PIL import Image, ImageDraw

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


def write_classification_set(root: str, num_per_class: Dict[str, int], size: int = 64,
                             seed: int = 0) -> Path:
    """Writes ``num_per_class[split]`` PNG images of each class of :data:`SHAPE_CLASSES` per split.

    The same arguments give the same bytes. Returns ``root`` as a ``Path``.
    """
    root = Path(root)
    for split_index, (split, count) in enumerate(sorted(num_per_class.items())):
        rng = np.random.default_rng([seed, split_index])
        for shape in SHAPE_CLASSES:
            folder = root / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                image = _background(rng, size)
                _draw_shape(ImageDraw.Draw(image), shape, rng, size)
                image.save(folder / f'{index:04d}.png')
    return root
