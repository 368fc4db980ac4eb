"""The toolboxes' own inferencers for a config of ours, and a real photograph to run them on.

mmpose's ``MMPoseInferencer``, mmseg's ``MMSegInferencer`` and mmpretrain's
``ImageClassificationInferencer`` each take a config and a checkpoint, run the model on images
and draw the predictions. Two settings differ from their defaults here: the top-down pose model
gets the whole image as its person box (no detector, whose weights would be downloaded), and
mmpose draws with matplotlib, since its OpenCV drawing calls ``int()`` on one-element arrays, an
error under numpy >= 2.4. The inferencers make their toolbox the default registry scope of the
process; here it is set back when they return, so that other toolboxes' models still build.
"""
from pathlib import Path
from typing import Any, Tuple, Union

from mmengine.config import Config
from mmengine.registry import DefaultScope

PathLike = Union[str, Path]
SCOPE_OF = {'MMPoseInferencer': 'mmpose', 'MMSegInferencer': 'mmseg',
            'ImageClassificationInferencer': 'mmpretrain'}


def astronaut_photo() -> Path:
    """scikit-image's ``astronaut.png`` (512 x 512 RGB, NASA's portrait of Eileen Collins, upper
    body in an orange flight suit), which its package ships: a real photograph of a person, no
    download."""
    import skimage.data
    return Path(skimage.data.__file__).parent / 'astronaut.png'


def build_inferencer(config: PathLike, checkpoint: PathLike, device: str = 'cpu'):
    """The inferencer of the toolbox that ``config.default_scope`` names, with the model of
    ``config`` and the weights of ``checkpoint``."""
    cfg = Config.fromfile(str(config))
    scope = cfg.get('default_scope')
    with DefaultScope.overwrite_default_scope(scope):
        return _build_inferencer(cfg, scope, checkpoint, device)


def _build_inferencer(cfg: Config, scope: str, checkpoint: PathLike, device: str):
    if scope == 'mmpose':
        from mmpose.apis import MMPoseInferencer
        cfg.visualizer.backend = 'matplotlib'
        return MMPoseInferencer(pose2d=cfg, pose2d_weights=str(checkpoint),
                                det_model='whole_image', device=device)
    if scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        return MMSegInferencer(model=cfg, weights=str(checkpoint), device=device)
    if scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        return ImageClassificationInferencer(model=cfg, pretrained=str(checkpoint), device=device)
    raise ValueError(f'{cfg.filename}: default_scope={scope!r}; expected an mmpose, mmseg or '
                     'mmpretrain config')


def infer_and_draw(inferencer, image: PathLike, out_dir: PathLike, **kwargs: Any
                   ) -> Tuple[Any, Path]:
    """Runs ``inferencer`` (from :func:`build_inferencer`) on the image file and draws its
    predictions on it into ``out_dir``; ``kwargs`` go to the inferencer's call.

    Returns:
        the inferencer's predictions for the image (pose: a list with one dict per person,
        ``keypoints`` ``K x 2``, ``keypoint_scores``; segmentation: the ``H x W`` class map;
        classification: a dict with ``pred_label``, ``pred_score``, ``pred_scores``), and the
        path of the PNG drawn.
    """
    with DefaultScope.overwrite_default_scope(SCOPE_OF[type(inferencer).__name__]):
        return _infer_and_draw(inferencer, Path(image), Path(out_dir), **kwargs)


def _infer_and_draw(inferencer, image: Path, out_dir: Path, **kwargs: Any) -> Tuple[Any, Path]:
    png = out_dir / f'{image.stem}.png'
    kind = type(inferencer).__name__
    if kind == 'MMPoseInferencer':  # a generator, one result per image
        results = next(inferencer(str(image), vis_out_dir=str(out_dir), **kwargs))
        return results['predictions'][0], png
    if kind == 'MMSegInferencer':
        results = inferencer(str(image), out_dir=str(out_dir), **kwargs)
        return results['predictions'], out_dir / 'vis' / png.name
    return inferencer(str(image), show_dir=str(out_dir), **kwargs)[0], png
