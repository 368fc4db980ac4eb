"""The toolboxes' own inferencers run our configs' models (random weights) on a real photograph
and draw their predictions into a PNG of the photo's size."""
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from PIL import Image

from mmhrformer.deployment.inferencers import astronaut_photo, build_inferencer, infer_and_draw


def photo_size():
    with Image.open(astronaut_photo()) as photo:
        assert photo.mode == 'RGB'
        return photo.size


def assert_png_of_the_photo(png):
    with Image.open(png) as drawing:
        assert drawing.format == 'PNG'
        assert drawing.size == photo_size()


def test_pose_inferencer_finds_17_keypoints_in_the_photo(random_checkpoints, tmp_path):
    scope = DefaultScope.get_current_instance()
    inferencer = build_inferencer(*random_checkpoints['pose'])
    # kpt_thr=0: the random model's scores are low, and every keypoint is to be drawn
    people, png = infer_and_draw(inferencer, astronaut_photo(), tmp_path, kpt_thr=0.)
    assert DefaultScope.get_current_instance() is scope  # mmpose's scope set back
    assert len(people) == 1  # the whole image is the one person box
    assert np.asarray(people[0]['keypoints']).shape == (17, 2)
    assert np.asarray(people[0]['bbox']).ravel().tolist() == [0., 0., *photo_size()]
    assert_png_of_the_photo(png)
    with Image.open(png) as drawing, Image.open(astronaut_photo()) as photo:
        assert np.asarray(drawing.convert('RGB')).tolist() != np.asarray(photo).tolist()


def test_segmentation_inferencer_labels_every_pixel(random_checkpoints, tmp_path):
    inferencer = build_inferencer(*random_checkpoints['seg'])
    labels, png = infer_and_draw(inferencer, astronaut_photo(), tmp_path)
    width, height = photo_size()
    assert labels.shape == (height, width)
    assert len(inferencer.model.dataset_meta['classes']) == 59  # Pascal Context's, from the file
    assert 0 <= labels.min() and labels.max() < 59
    assert_png_of_the_photo(png)


def test_classification_inferencer_scores_the_1000_classes(random_checkpoints, tmp_path):
    inferencer = build_inferencer(*random_checkpoints['cls'])
    result, png = infer_and_draw(inferencer, astronaut_photo(), tmp_path)
    assert result['pred_scores'].shape == (1000,)
    assert result['pred_scores'].sum() == pytest.approx(1., abs=1e-4)
    assert result['pred_label'] == int(np.argmax(result['pred_scores']))
    assert result['pred_class'] == inferencer.classes[result['pred_label']]  # ImageNet's names
    assert_png_of_the_photo(png)


def test_config_of_another_toolbox_is_refused(tmp_path):
    config = tmp_path / 'detector.py'
    config.write_text("default_scope = 'mmdet'\nmodel = dict(type='FasterRCNN')\n")
    with pytest.raises(ValueError, match="default_scope='mmdet'"):
        build_inferencer(config, tmp_path / 'missing.pth')
