"""Small, seeded data sets in the exact on-disk formats that the stock OpenMMLab datasets read,
for the demos and the tests (these machines cannot download COCO, ImageNet or Pascal Context)."""
from .classification import SHAPE_CLASSES, write_classification_set, write_imagenet_set
from .coco_keypoints import write_coco_keypoints

__all__ = ['SHAPE_CLASSES', 'write_classification_set', 'write_coco_keypoints',
           'write_imagenet_set']
