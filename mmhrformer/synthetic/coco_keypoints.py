"""COCO person keypoints, drawn: stick figures in varied poses, in COCO's on-disk format.

``root/annotations/person_keypoints_{split}.json`` + ``root/{split}/{image_id:012d}.jpg``, which
mmpose's ``CocoDataset`` and ``CocoMetric`` (through xtcocotools) read as they read COCO.

Each figure has COCO's 17 keypoints at a random scale, position and pose (every joint angle is
drawn independently), so where the keypoints lie can only be seen, not guessed from the box. Left
limbs are drawn in cool colours and right limbs in warm ones, so that left and right can be told
apart (real images tell them by context). Random rectangles occlude parts of some figures: a
covered keypoint is labelled "not visible" (v=1), as COCO labels occluded joints; one outside the
image is not labelled (v=0).
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .coco_files import write_coco_splits

KEYPOINT_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
                  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                  'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
#: COCO's skeleton, 1-based as in the annotation files.
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
            [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
CATEGORY = dict(id=1, name='person', supercategory='person', keypoints=list(KEYPOINT_NAMES),
                skeleton=SKELETON)

# Limbs as (parent, child, length in units of the torso height); 0-based keypoint indices.
_LIMBS = [(5, 7, 0.55), (7, 9, 0.5), (6, 8, 0.55), (8, 10, 0.5),  # arms
          (11, 13, 0.65), (13, 15, 0.6), (12, 14, 0.65), (14, 16, 0.6)]  # legs
_LEFT_COLOURS = [(40, 90, 255), (0, 200, 255), (60, 60, 200), (0, 140, 220)]
_RIGHT_COLOURS = [(255, 60, 40), (255, 170, 0), (220, 40, 120), (240, 110, 20)]


def _pose(rng: np.random.Generator, centre: np.ndarray, torso: float) -> np.ndarray:
    """17 x 2 keypoint coordinates of one figure with random joint angles."""
    points = np.zeros((17, 2))
    lean = rng.uniform(-0.35, 0.35)  # radians from upright
    up = np.array([np.sin(lean), -np.cos(lean)])
    across = np.array([-up[1], up[0]])
    neck, pelvis = centre + up * torso / 2, centre - up * torso / 2
    width = torso * rng.uniform(0.3, 0.45)
    points[5], points[6] = neck + across * width, neck - across * width  # shoulders: left at +x
    points[11], points[12] = pelvis + across * width * 0.7, pelvis - across * width * 0.7
    head = neck + up * torso * 0.35
    facing = rng.uniform(-0.5, 0.5)
    points[0] = head + across * torso * 0.08 * facing
    for left, right, dx, dy in ((1, 2, 0.07, 0.04), (3, 4, 0.13, 0.0)):
        points[left] = head + across * torso * dx + up * torso * dy
        points[right] = head - across * torso * dx + up * torso * dy
    for parent, child, length in _LIMBS:
        angle = rng.uniform(-np.pi, np.pi) if child in (9, 10) else rng.uniform(-2.2, 2.2)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        points[child] = points[parent] - rotation @ up * torso * length  # hanging, then turned
    return points


def _draw_figure(draw: ImageDraw.ImageDraw, points: np.ndarray, torso: float):
    thickness = max(2, int(torso * 0.12))
    body = [tuple(p) for p in points[[5, 6, 12, 11]]]
    draw.polygon(body, fill=(230, 230, 230))
    for index, (parent, child, _) in enumerate(_LIMBS):
        is_left = parent % 2 == 1
        colours = _LEFT_COLOURS if is_left else _RIGHT_COLOURS
        draw.line([tuple(points[parent]), tuple(points[child])], fill=colours[index // 2 % 4],
                  width=thickness)
    radius = torso * 0.22
    hx, hy = (points[1] + points[2]) / 2
    draw.ellipse([hx - radius, hy - radius, hx + radius, hy + radius], fill=(250, 220, 180))
    for index, colour in ((0, (0, 0, 0)), (1, _LEFT_COLOURS[0]), (2, _RIGHT_COLOURS[0]),
                          (3, _LEFT_COLOURS[1]), (4, _RIGHT_COLOURS[1])):
        x, y = points[index]
        r = max(1.5, torso * 0.04)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)


def _background(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    base = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[0:height, 0:width]
    waves = 30 * np.sin(xx * rng.uniform(0.02, 0.2) + yy * rng.uniform(0.02, 0.2))[..., None]
    noise = rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(base + waves + noise, 0, 255).astype(np.uint8))


def _occluder(rng: np.random.Generator, centre: np.ndarray, torso: float) -> Tuple[float, ...]:
    size = rng.uniform(0.3, 0.7, 2) * torso
    x0, y0 = centre + rng.uniform(-1, 1, 2) * torso * 0.8 - size / 2
    return x0, y0, x0 + size[0], y0 + size[1]


def _annotation(points: np.ndarray, occluder, width: int, height: int, torso: float) -> dict:
    keypoints = []
    for x, y in points:
        inside = 0 <= x < width and 0 <= y < height
        covered = occluder is not None and (occluder[0] <= x <= occluder[2]
                                            and occluder[1] <= y <= occluder[3])
        visibility = 0 if not inside else (1 if covered else 2)
        keypoints += [float(x), float(y), visibility] if visibility else [0., 0., 0]
    labelled = points[[i for i in range(17) if keypoints[3 * i + 2] > 0]]
    pad = torso * 0.25
    x0, y0 = np.clip(labelled.min(0) - pad, 0, [width, height])
    x1, y1 = np.clip(labelled.max(0) + pad, 0, [width, height])
    return dict(keypoints=keypoints, num_keypoints=int(sum(v > 0 for v in keypoints[2::3])),
                bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                area=float((x1 - x0) * (y1 - y0)), category_id=1, iscrowd=0)


def _image(rng: np.random.Generator, size: Tuple[int, int],
           max_people: int) -> Tuple[Image.Image, List[dict]]:
    width, height = size
    image = _background(rng, height, width)
    draw = ImageDraw.Draw(image)
    annotations = []
    for _ in range(rng.integers(1, max_people + 1)):
        torso = rng.uniform(0.15, 0.3) * height
        centre = rng.uniform([torso, torso * 1.2], [width - torso, height - torso * 1.2])
        points = _pose(rng, centre, torso)
        _draw_figure(draw, points, torso)
        occluder = _occluder(rng, centre, torso) if rng.random() < 0.3 else None
        if occluder is not None:
            draw.rectangle(occluder, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        annotation = _annotation(points, occluder, width, height, torso)
        if annotation['num_keypoints'] >= 3:
            annotations.append(annotation)
    return image, annotations


def write_coco_keypoints(root: str, num_images: Dict[str, int], size: Tuple[int, int] = (192, 256),
                         max_people: int = 2, seed: int = 0) -> Path:
    """Writes ``num_images[split]`` images and their annotation file for each split.

    Args:
        root: the data root (``data/coco`` for the stock configs).
        num_images: e.g. ``{'train2017': 200, 'val2017': 50}``.
        size: ``(width, height)`` of the images.
        max_people: figures per image, 1 to this.
        seed: the same seed gives the same bytes.
    """
    return write_coco_splits(root, num_images, 'person_keypoints_{split}.json', [CATEGORY],
                             lambda rng: _image(rng, size, max_people), seed)
