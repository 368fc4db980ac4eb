"""Published-checkpoint stand-ins with random weights, for a small HRFormer (NANO): the official
classifier's file (``{'model': ...}``, backbone and head side by side, official key names) and
mmpose's pretrain file (mmpose's port's key names, all four fused outputs, as an ImageNet file)."""
from pathlib import Path

import torch

from .official_reference import OfficialReference

#: Two blocks per stream (what the official files have), the stem and stage 1 of every variant.
NANO = dict(channels=[8, 16, 32, 64], num_heads=[1, 1, 2, 2], mlp_ratios=[4, 4, 4, 4],
            num_modules=[1, 1, 1], num_blocks=[2, 2, 2])


def official_state(window: int = 7, seed: int = 0) -> dict:
    """The official classifier's state dict for :data:`NANO`: backbone and head keys."""
    reference = OfficialReference(NANO['channels'], NANO['num_heads'], NANO['num_modules'],
                                  fork='cls', window=window, seed=seed)
    reference.forward(torch.randn(1, 3, 64, 64))  # creates every key the model reads
    return reference.state


def mmpose_state(seed: int = 0) -> dict:
    """mmpose's ``HRFormer`` for :data:`NANO`, every weight and statistic random."""
    from mmpose.registry import MODELS
    stages = {'stage1': dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(2, ),
                             num_channels=(64, ))}
    for stage in range(2, 5):
        stages[f'stage{stage}'] = dict(
            num_modules=NANO['num_modules'][stage - 2], num_branches=stage, block='HRFORMERBLOCK',
            num_blocks=(2, ) * stage, num_channels=tuple(NANO['channels'][:stage]),
            num_heads=NANO['num_heads'][:stage], mlp_ratios=[4] * stage,
            window_sizes=[7] * stage, multiscale_output=True)
    model = MODELS.build(dict(type='HRFormer', extra=dict(drop_path_rate=0., with_rpe=True,
                                                          **stages)))
    generator = torch.Generator().manual_seed(seed)
    return {key: (torch.randn(value.shape, generator=generator).abs() + 0.5
                  if key.endswith('running_var') else
                  torch.randn(value.shape, generator=generator) if value.is_floating_point()
                  else value)
            for key, value in model.state_dict().items()}


def save(state: dict, path: Path, wrapper: str = 'model') -> Path:
    """Writes ``{wrapper: state}`` as the published files are, and returns ``path``."""
    torch.save({wrapper: state}, path)
    return path
