"""The generators write files that the stock dataset classes load, and the same seed gives the
same bytes."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from mmhrformer.synthetic import write_coco_keypoints, write_imagenet_set
from mmhrformer.synthetic.coco_instances import write_coco_instances
from mmhrformer.synthetic.segmentation import write_segmentation_set

GENERATORS = {
    'coco_keypoints': lambda root, seed: write_coco_keypoints(root, {'val2017': 3}, seed=seed),
    'imagenet': lambda root, seed: write_imagenet_set(root, {'train': 1, 'val': 1}, seed=seed),
    'pascal_context': lambda root, seed: write_segmentation_set(
        root, 'pascal_context_59', {'train': 2}, seed=seed),
    'coco_instances': lambda root, seed: write_coco_instances(root, {'val2017': 2}, seed=seed),
}


def digest(root: Path) -> str:
    files = sorted(p for p in Path(root).rglob('*') if p.is_file())
    return hashlib.sha256(b''.join(str(p.relative_to(root)).encode() + p.read_bytes()
                                   for p in files)).hexdigest()


@pytest.mark.parametrize('name', sorted(GENERATORS))
def test_same_seed_same_bytes_other_seed_other_bytes(name, tmp_path):
    generate = GENERATORS[name]
    first = digest(generate(str(tmp_path / 'a'), 0))
    assert first == digest(generate(str(tmp_path / 'b'), 0))
    assert first != digest(generate(str(tmp_path / 'c'), 1))


def test_coco_keypoints_load_through_mmpose_and_xtcocotools(tmp_path):
    from mmpose.datasets import CocoDataset
    from xtcocotools.coco import COCO
    root = write_coco_keypoints(str(tmp_path), {'train2017': 6}, max_people=3)
    ann_file = root / 'annotations/person_keypoints_train2017.json'
    coco = COCO(str(ann_file))
    assert len(coco.getImgIds()) == 6 and coco.getCatIds() == [1]
    dataset = CocoDataset(data_root=str(root),
                          ann_file='annotations/person_keypoints_train2017.json',
                          data_prefix=dict(img='train2017/'), test_mode=False)
    assert len(dataset) == len(coco.getAnnIds()) > 6  # one sample per person
    sample = dataset[0]
    assert sample['keypoints'].shape == (1, 17, 2)
    assert set(np.unique(sample['keypoints_visible'])) <= {0., 1.}
    x, y, w, h = coco.loadAnns(coco.getAnnIds())[0]['bbox']
    assert w > 0 and h > 0


def test_figures_vary_in_pose_so_keypoints_are_not_guessable_from_the_box(tmp_path):
    from xtcocotools.coco import COCO
    root = write_coco_keypoints(str(tmp_path), {'train2017': 40}, max_people=1)
    coco = COCO(str(root / 'annotations/person_keypoints_train2017.json'))
    relative = []
    for ann in coco.loadAnns(coco.getAnnIds()):
        points = np.array(ann['keypoints']).reshape(17, 3)
        x, y, w, h = ann['bbox']
        if points[9, 2] > 0:  # left wrist labelled
            relative.append(((points[9, 0] - x) / w, (points[9, 1] - y) / h))
    spread = np.std(relative, axis=0)
    assert (spread > 0.15).all(), spread  # the wrist is anywhere in the box


def test_imagenet_set_loads_through_mmpretrain(tmp_path):
    from mmpretrain.datasets import ImageNet
    root = write_imagenet_set(str(tmp_path), {'train': 2, 'val': 1})
    train, val = ImageNet(str(root), split='train'), ImageNet(str(root), split='val')
    assert len(train) == 6 and len(val) == 3
    assert sorted({train.get_gt_labels()[i] for i in range(6)}) == [0, 1, 2]


def test_pascal_context_set_loads_through_mmseg(tmp_path):
    from mmseg.datasets import PascalContextDataset59
    root = write_segmentation_set(str(tmp_path), 'pascal_context_59', {'train': 3})
    dataset = PascalContextDataset59(
        data_root=str(root), ann_file='ImageSets/SegmentationContext/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='mmseg.LoadAnnotations', reduce_zero_label=True)])
    assert len(dataset) == 3
    labels = dataset[0]['gt_seg_map']
    assert labels.max() < 59  # 1..59 on disk become 0..58, no background


def test_coco_stuff10k_set_loads_through_mmseg(tmp_path):
    from mmseg.datasets import COCOStuffDataset
    root = write_segmentation_set(str(tmp_path), 'coco_stuff10k', {'train2014': 2})
    dataset = COCOStuffDataset(
        data_root=str(root), reduce_zero_label=True,
        data_prefix=dict(img_path='images/train2014', seg_map_path='annotations/train2014'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='mmseg.LoadAnnotations', reduce_zero_label=True)])
    assert len(dataset) == 2
    labels = dataset[0]['gt_seg_map']
    assert labels[labels != 255].max() < 171  # 1..171 on disk become 0..170


def test_coco_instances_load_through_mmdet(tmp_path):
    from mmdet.datasets import CocoDataset
    root = write_coco_instances(str(tmp_path), {'train2017': 3})
    dataset = CocoDataset(data_root=str(root), ann_file='annotations/instances_train2017.json',
                          data_prefix=dict(img='train2017/'), pipeline=[])
    assert len(dataset) == 3
    instances = dataset[0]['instances']
    assert instances and all(len(i['mask'][0]) >= 10 for i in instances)
