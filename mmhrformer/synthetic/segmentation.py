"""Semantic segmentation sets of textured shapes, in the on-disk layouts of mmseg's datasets.

Each class has its own colour and stripe texture, so the class of a pixel can be seen in the
image; every image has a background class and a few shapes of other classes at random places.

Layouts (``num_images`` keys are the splits):

- ``'pascal_context_59'``: ``JPEGImages/*.jpg``, ``SegmentationClassContext/*.png``
  (0 = background, ignored by ``reduce_zero_label``; 1..59 the classes),
  ``ImageSets/SegmentationContext/{split}.txt``; read by ``PascalContextDataset59`` with
  ``data_root=root`` (``data/VOCdevkit/VOC2010``).
- ``'ade20k'``: ``images/{split}/*.jpg`` and ``annotations/{split}/*.png`` (0 ignored, 1..150),
  ``split`` in ``training``, ``validation``; read by ``ADE20KDataset``.
- ``'cityscapes'``: ``leftImg8bit/{split}/city/*_leftImg8bit.png`` and
  ``gtFine/{split}/city/*_gtFine_labelTrainIds.png`` (0..18); read by ``CityscapesDataset``.
- ``'coco_stuff10k'``: ``images/{split}/*.jpg`` and ``annotations/{split}/*_labelTrainIds.png``
  (0 ignored, 1..171), ``split`` in ``train2014``, ``test2014``; read by ``COCOStuffDataset``
  with ``reduce_zero_label``, as mmseg's COCO-Stuff 10k config reads it.
"""
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .seeding import split_rng

#: layout -> (number of classes, first label value): labels written are first..first+classes-1.
LAYOUTS = {'pascal_context_59': (59, 1), 'ade20k': (150, 1), 'cityscapes': (19, 0),
           'coco_stuff10k': (171, 1)}


def class_look(label: int) -> Tuple[np.ndarray, float, float]:
    """A fixed colour, stripe frequency and stripe angle per class."""
    rng = np.random.default_rng(label + 1000)
    return rng.integers(30, 226, 3), rng.uniform(0.15, 0.6), rng.uniform(0, np.pi)


def _paint(image: np.ndarray, mask: np.ndarray, label: int) -> None:
    colour, frequency, angle = class_look(label)
    yy, xx = np.nonzero(mask)
    stripes = 25 * np.sign(np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * frequency))
    image[yy, xx] = np.clip(colour[None, :] + stripes[:, None], 0, 255)


def _scene(rng: np.random.Generator, size: Tuple[int, int], num_classes: int,
           first: int) -> Tuple[np.ndarray, np.ndarray]:
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    labels = np.full((height, width), first + rng.integers(num_classes), np.uint8)
    _paint(image, np.ones((height, width), bool), int(labels[0, 0]))
    for _ in range(rng.integers(2, 5)):
        label = first + int(rng.integers(num_classes))
        shape = Image.new('L', (width, height))
        x0, y0 = rng.uniform(0, 0.7, 2) * (width, height)
        x1, y1 = (x0, y0) + rng.uniform(0.2, 0.5, 2) * (width, height)
        draw = ImageDraw.Draw(shape)
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=1)
        mask = np.asarray(shape, bool)
        labels[mask] = label
        _paint(image, mask, label)
    return image, labels


def _paths(layout: str, split: str, name: str) -> Tuple[str, str]:
    if layout == 'pascal_context_59':
        return f'JPEGImages/{name}.jpg', f'SegmentationClassContext/{name}.png'
    if layout == 'ade20k':
        return f'images/{split}/{name}.jpg', f'annotations/{split}/{name}.png'
    if layout == 'coco_stuff10k':
        return f'images/{split}/{name}.jpg', f'annotations/{split}/{name}_labelTrainIds.png'
    return (f'leftImg8bit/{split}/synth/{name}_leftImg8bit.png',
            f'gtFine/{split}/synth/{name}_gtFine_labelTrainIds.png')


def write_segmentation_set(root: str, layout: str, num_images: Dict[str, int],
                           size: Tuple[int, int] = (128, 96), seed: int = 0) -> Path:
    """Writes ``num_images[split]`` image/label pairs per split in ``layout`` (see module doc).

    ``size`` is ``(width, height)``. The same arguments give the same bytes.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {sorted(LAYOUTS)}, got {layout!r}')
    num_classes, first = LAYOUTS[layout]
    root = Path(root)
    for split, count in sorted(num_images.items()):
        rng = split_rng(seed, split)
        names = [f'{split}_{index:05d}' for index in range(count)]
        for name in names:
            image, labels = _scene(rng, size, num_classes, first)
            image_path, label_path = (root / p for p in _paths(layout, split, name))
            image_path.parent.mkdir(parents=True, exist_ok=True)
            label_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(image_path, **({'quality': 95}
                                                       if image_path.suffix == '.jpg' else {}))
            Image.fromarray(labels).save(label_path)
        if layout == 'pascal_context_59':
            split_file = root / 'ImageSets/SegmentationContext' / f'{split}.txt'
            split_file.parent.mkdir(parents=True, exist_ok=True)
            split_file.write_text('\n'.join(names) + '\n')
    return root
