"""Small, seeded data sets in the exact on-disk formats that the stock OpenMMLab datasets read,
for the demos and the tests (these machines cannot download COCO, ImageNet or Pascal Context)."""
from .classification import SHAPE_CLASSES, write_classification_set

__all__ = ['SHAPE_CLASSES', 'write_classification_set']
