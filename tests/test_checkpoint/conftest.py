"""The generated data sets of ``tests/test_configs`` (session fixtures), for the Runners of
:mod:`.test_pretrained_init`."""
from tests.test_configs.conftest import (  # noqa: F401  (fixtures, found by name)
    coco_instances, coco_keypoints, imagenet, segmentation_roots)
