"""Writing drawn images and their COCO annotation file, split by split: the part that the keypoint
and the instance sets share."""
import json
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
from PIL import Image

from .seeding import split_rng

#: ``draw(rng)`` -> the image and its annotations (without ``id`` and ``image_id``).
DrawImage = Callable[[np.random.Generator], Tuple[Image.Image, List[dict]]]


def write_coco_splits(root: str, num_images: Dict[str, int], annotation_file: str,
                      categories: List[dict], draw: DrawImage, seed: int) -> Path:
    """Writes ``root/{split}/{image_id:012d}.jpg`` and ``root/annotations/{annotation_file}``
    (formatted with ``split``) for ``num_images[split]`` images of each split.

    Image and annotation ids run on across the splits of one call, from 1.
    """
    root = Path(root)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    image_id, annotation_id = 1, 1
    for split, count in sorted(num_images.items()):
        rng = split_rng(seed, split)
        (root / split).mkdir(exist_ok=True)
        images, annotations = [], []
        for _ in range(count):
            image, objects = draw(rng)
            file_name = f'{image_id:012d}.jpg'
            image.save(root / split / file_name, quality=95)
            images.append(dict(id=image_id, file_name=file_name, width=image.width,
                               height=image.height))
            for obj in objects:
                annotations.append(dict(obj, image_id=image_id, id=annotation_id))
                annotation_id += 1
            image_id += 1
        content = dict(images=images, annotations=annotations, categories=categories)
        (root / 'annotations' / annotation_file.format(split=split)).write_text(
            json.dumps(content))
    return root
