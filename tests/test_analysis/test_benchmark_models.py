"""The benchmark's models come from their configs through the Runner, as training builds them."""
import pytest
import torch

from mmhrformer.analysis.benchmark_models import (MODELS, build_pose_model, counterpart,
                                                  load_config, synthetic_batch)

TINY = ['HRFormer-T', 'mmpose HRFormer-T', 'HRNet-W18']


@pytest.fixture(scope='module')
def tiny_models():
    return {name: build_pose_model(name).model for name in TINY}


def _norms(model):
    return {type(module).__name__ for module in model.modules()} & {
        'SyncBatchNorm', '_BatchNormXd', 'BatchNorm2d'}


def test_the_runner_reverts_the_configs_syncbn_to_mmengines_batchnorm(tiny_models):
    assert load_config('HRFormer-T').model.backbone.norm_cfg.type == 'SyncBN'
    assert _norms(tiny_models['HRFormer-T']) == {'_BatchNormXd'}
    assert _norms(tiny_models['mmpose HRFormer-T']) == {'_BatchNormXd'}
    assert _norms(tiny_models['HRNet-W18']) == {'BatchNorm2d'}  # its config asks for BN


def test_models_have_the_published_sizes(tiny_models):
    params = {name: sum(p.numel() for p in model.backbone.parameters())
              for name, model in tiny_models.items()}
    assert params['HRFormer-T'] == params['mmpose HRFormer-T'] == pytest.approx(2.5e6, rel=0.02)
    assert params['HRNet-W18'] == pytest.approx(9.3e6, rel=0.01)


def test_weights_are_random_and_the_accuracy_that_fails_under_bf16_is_off():
    for name in MODELS:
        cfg = load_config(name)
        assert cfg.model.backbone.init_cfg is None
        assert cfg.model.train_cfg.compute_acc is False


def test_the_plain_variant_turns_memory_saving_off():
    assert load_config('HRFormer-S plain').model.backbone.memory_saving is False
    assert load_config('HRFormer-S').model.backbone.get('memory_saving') is not False  # as shipped


def test_each_model_is_compared_within_its_variant():
    assert counterpart('HRFormer-B', 'hrnet') == 'HRNet-W48'
    assert counterpart('HRNet-W32', 'port') == 'mmpose HRFormer-S'
    assert counterpart('mmpose HRFormer-T', 'plain') == 'HRFormer-T plain'
    with pytest.raises(KeyError, match="'HRFormer-X'.*HRFormer-S"):
        load_config('HRFormer-X')


def test_synthetic_batch_has_the_loaders_types_and_stride_4_targets():
    batch = synthetic_batch(2, (64, 50), num_keypoints=17)
    assert [image.shape for image in batch['inputs']] == [(3, 64, 50)] * 2
    assert batch['inputs'][0].dtype == torch.uint8
    sample = batch['data_samples'][0]
    assert sample.gt_fields.heatmaps.shape == (17, 16, 13)
    assert sample.gt_instance_labels.keypoint_weights.shape == (1, 17)


def test_building_leaves_the_registry_scope_as_it_was(tiny_models):
    """The Runner makes 'mmpose' the current scope; later builds from other toolboxes' registries
    (mmpretrain's classifier in the checkpoint tests) must not look up mmpose's."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        build_pose_model('HRNet-W18')
        assert DefaultScope.get_current_instance().scope_name == 'mmpretrain'
