"""A check that the neck and heads of a model take what its backbone returns.

A toolbox builds the backbone, the neck and the heads one by one from their own dicts, so none of
them sees the others' settings: a head whose ``in_channels`` or ``in_index`` does not fit the
backbone's ``out_indices`` is built without complaint and fails inside its first convolution or
indexing, with a message that names no config key. :func:`check_backbone_outputs` runs the
backbone on a small probe image and hands its outputs to the neck, then the neck's (or the
backbone's) to the heads; a failure is reported with the settings of both sides.

:class:`BackboneOutputCheckHook` runs it when a Runner starts (``before_run``: after the model and
data loaders are built, before weights are initialised or loaded and before the first batch), in
the spirit of mmdet's ``NumClassCheckHook``::

    custom_hooks = [dict(type='BackboneOutputCheckHook')]
"""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

#: The attributes under which the toolboxes keep the modules fed by the neck (or the backbone).
#: mmdet's detection heads also need proposals or image sizes: of a detector, the neck is fed.
HEADS = ('head', 'decode_head', 'auxiliary_head')
#: The settings of a neck or head that decide which backbone maps it reads and expects.
CONSUMER_KEYS = ('in_channels', 'in_index', 'input_transform')


def check_backbone_outputs(model: nn.Module, input_size: Sequence[int] = (64, 64)) -> None:
    """Feeds the backbone's outputs for a ``1 x C x H x W`` probe (``H, W = input_size``) to the
    neck and the heads, in eval mode without gradients.

    Of a ``ModuleList`` of heads (mmseg's cascade decode heads), the first is fed.

    Raises:
        ValueError: naming ``model.<neck or head>``'s ``in_channels``/``in_index`` and
            ``model.backbone.out_indices`` with the channels the backbone returns.
    """
    backbone = model.backbone
    weight = next(backbone.parameters())
    probe = torch.zeros(1, getattr(backbone, 'in_channels', 3), *input_size,
                        device=weight.device, dtype=weight.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            feats = _feed(model, 'neck', backbone(probe), 'backbone', probe.shape)
            source = 'neck' if getattr(model, 'neck', None) is not None else 'backbone'
            for name in HEADS:
                _feed(model, name, feats, source, probe.shape)
    finally:
        model.train(was_training)


def _feed(model: nn.Module, name: str, feats, source: str, probe_shape: torch.Size):
    """``model.<name>(feats)``, or ``feats`` where the model has no such module."""
    module = getattr(model, name, None)
    if isinstance(module, nn.ModuleList):
        module, name = module[0], f'{name}[0]'
    if module is None:
        return feats
    try:
        return module(feats)
    except Exception as error:
        raise ValueError(
            f'model.{name} ({type(module).__name__}) cannot take what model.{source} returns: '
            f'{_describe_outputs(model, source, feats)}, while {_describe_settings(module, name)}. '
            f'Make them agree. (A {tuple(probe_shape)} probe image gave '
            f'{type(error).__name__}: {error})') from error


def _channels(feats) -> Tuple[int, ...]:
    feats = feats if isinstance(feats, (tuple, list)) else (feats, )
    return tuple(f.shape[1] for f in feats if isinstance(f, torch.Tensor))


def _describe_outputs(model: nn.Module, source: str, feats) -> str:
    channels = _channels(feats)
    text = f'model.{source} returns {len(channels)} map(s) with channels {channels}'
    out_indices = getattr(getattr(model, source), 'out_indices', None)
    if source == 'backbone' and out_indices is not None:
        text += f' (model.backbone.out_indices={tuple(out_indices)})'
    return text


def _describe_settings(module: nn.Module, name: str) -> str:
    settings = [f'model.{name}.{key}={getattr(module, key)!r}' for key in CONSUMER_KEYS
                if hasattr(module, key)]
    return ', '.join(settings) or f'model.{name} has no in_channels setting'


@HOOKS.register_module()
class BackboneOutputCheckHook(Hook):
    """Runs :func:`check_backbone_outputs` on the Runner's model when a run starts.

    Args:
        input_size: ``(H, W)`` of the probe image; a head made for one input size (e.g. SimCC's)
            needs that size.
    """

    priority = 'VERY_HIGH'

    def __init__(self, input_size: Sequence[int] = (64, 64)):
        self.input_size = tuple(input_size)

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_backbone_outputs(model, self.input_size)
