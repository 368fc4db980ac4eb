"""The benchmark's Markdown report: one row per model, each figure beside its ratios to the
models it is compared with (the HRNet of the same widths, mmpose's port, our plain layers)."""
from typing import Dict, List, NamedTuple, Sequence, Tuple, Union

from .benchmark_models import counterpart

MIB = 2**20
#: What the ratio columns call the models of each role.
ROLE_NAMES = {'hrnet': 'HRNet', 'port': 'mmpose port', 'plain': 'plain layers'}
#: What a ratio column calls another model's figure that it divides by.
OTHER_FIGURES = {'inference_s': 'as built'}


class Column(NamedTuple):
    """A figure of the results (``key``), shown divided by ``scale`` with ``digits`` decimals,
    then its ratio to the model of each role in ``against``: this model's figure over the other's
    or, for a time (``speed``), the other's over this one's (above 1: this one is faster). A role
    given as ``(role, other_key)`` divides by that model's figure ``other_key`` instead (its
    title in :data:`OTHER_FIGURES`)."""
    key: str
    title: str
    scale: float = 1.
    digits: int = 0
    against: Tuple[Union[str, Tuple[str, str]], ...] = ()
    speed: bool = False


TRAINING = [
    Column('params', 'backbone params (M)', 1e6, 2),
    Column('kept_bytes', 'kept for backward (MiB)', MIB, 0, ('hrnet', 'port', 'plain')),
    Column('peak_bytes', 'peak live (MiB)', MIB, 0, ('hrnet', 'port', 'plain')),
    Column('flops', 'GFLOPs', 1e9, 1, ('port', 'plain')),
]
OPS = [
    Column('ops', 'aten ops, training step', against=('port', 'plain')),
    Column('model_ops', 'of which forward + backward', against=('port', 'plain')),
    Column('update_ops', 'of which optimizer update', against=('port',)),
    Column('view_ops', 'views, training step'),
    Column('inference_ops', 'aten ops, inference', against=('port', 'plain')),
    Column('inference_view_ops', 'views, inference'),
    Column('folded_inference_ops', 'aten ops, inference, BN folded', against=('port',)),
]
TIMES = [
    Column('inference_s', 'inference (ms)', 1e-3, 0, ('port', 'hrnet'), speed=True),
    Column('folded_inference_s', 'inference, BN folded (ms)', 1e-3, 0,
           ('port', ('port', 'inference_s'), 'hrnet'), speed=True),
    Column('compiled_inference_s', 'compiled inference (ms)', 1e-3, 0, ('port', 'hrnet'),
           speed=True),
    Column('train_step_s', 'training step (ms)', 1e-3, 0, ('port', 'hrnet', 'plain'),
           speed=True),
]
CUDA = [
    Column('cuda_peak_bytes', 'max allocated, fp32 step (MiB)', MIB, 0, ('hrnet', 'port')),
    Column('cuda_kernels', 'GPU kernels, fp32 step', against=('port', 'plain')),
    Column('fp16_train_step_s', 'fp16 AMP step (ms)', 1e-3, 0, ('port', 'hrnet'), speed=True),
    Column('fp16_peak_bytes', 'max allocated, fp16 (MiB)', MIB, 0, ('hrnet', 'port')),
    Column('bf16_train_step_s', 'bf16 AMP step (ms)', 1e-3, 0, ('port', 'hrnet'), speed=True),
    Column('bf16_peak_bytes', 'max allocated, bf16 (MiB)', MIB, 0, ('hrnet', 'port')),
]

NOTES = [
    'Bytes are those of live tensor storages, counted as they are created and freed (not the '
    "process's memory): what a GPU's allocator sees, less its rounding and kernel workspaces. "
    'Kept for backward: bytes alive when the loss goes to the backward pass minus those before '
    'the step; peak: the most alive at any moment of the step (forward, backward, AdamW update) '
    'above those before it.',
    'GFLOPs: executed per training step (a multiply-add is 2 FLOPs), by '
    '`torch.utils.flop_counter.FlopCounterMode` (its weight-gradient rule for grouped '
    'convolutions corrected, a rule added for the CPU attention kernel): matrix products, '
    'convolutions and attention, forward, backward and what the backward pass recomputes; '
    'element-wise ops and norms count nothing.',
    'aten ops: calls dispatched below autograd that are not views, each about one kernel launch '
    'on a GPU; views (metadata only) are counted apart. A training step splits into the forward '
    'and backward passes (loss scaling included) and the optimizer update, which follows the '
    "config's optimizer: ours take AdamW's fused update (one kernel per parameter tensor), "
    "mmpose's the per-parameter loop (about a dozen per tensor). Inference is the network "
    'forward pass (`mode="tensor"`) in eval mode; BN folded: the same with every BatchNorm '
    "folded into the convolution before it (mmcv's `fuse_conv_bn`, as a deployment does; each "
    "model's folded outputs are checked against its own), the other model folded too unless "
    'the column says "as built".',
    'Times: medians, the models taking turns in one process; speed ratios are the other '
    "model's time over this one's (above 1: this one is faster). Compiled: `torch.compile` "
    '(inductor, default settings).',
]


def _role_and_key(column: Column, role: Union[str, Tuple[str, str]]) -> Tuple[str, str]:
    """The role of the other model and the key of its figure that ``column`` divides by."""
    return role if isinstance(role, tuple) else (role, column.key)


def _ratio(results: Dict[str, dict], name: str, column: Column,
           role: Union[str, Tuple[str, str]]) -> str:
    role, other_key = _role_and_key(column, role)
    other = counterpart(name, role)
    if other in (None, name) or other not in results or other_key not in results[other]:
        return '-'
    value, reference = results[name][column.key], results[other][other_key]
    return f'{(reference / value if column.speed else value / reference):.2f}x'


def _ratio_title(column: Column, role: Union[str, Tuple[str, str]]) -> str:
    role, other_key = _role_and_key(column, role)
    figure = '' if other_key == column.key else f' {OTHER_FIGURES[other_key]}'
    return f"{'speed ' if column.speed else ''}vs {ROLE_NAMES[role]}{figure}"


def table(results: Dict[str, dict], columns: Sequence[Column]) -> List[str]:
    """Markdown lines of a table of ``results`` (``{name: {key: value}}``) with the ``columns``
    that any model has; no lines if none has any."""
    columns = [c for c in columns if any(c.key in result for result in results.values())]
    if not columns:
        return []
    header = ['model']
    for column in columns:
        header += [column.title] + [_ratio_title(column, role) for role in column.against]
    lines = ['| ' + ' | '.join(header) + ' |', '| --- ' * len(header) + '|']
    for name, result in results.items():
        cells = [name]
        for column in columns:
            value = result.get(column.key)
            cells.append('-' if value is None else f'{value / column.scale:,.{column.digits}f}')
            cells += [_ratio(results, name, column, role) if value is not None else '-'
                      for role in column.against]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def report(results: Dict[str, dict], title: str, setting: str) -> str:
    """The whole Markdown report: ``title``, a line on the ``setting`` (what ran, where), the
    tables of the figures that ``results`` hold, and how they are measured."""
    sections = [('Memory and work of a training step (any device)', TRAINING),
                ('aten ops dispatched', OPS), ('Times', TIMES), ('On the GPU', CUDA)]
    lines = [f'# {title}', '', setting, '']
    for heading, columns in sections:
        rows = table(results, columns)
        if rows:
            lines += [f'## {heading}', '', *rows, '']
    lines += ['## How the figures are measured', '', *(f'- {note}' for note in NOTES)]
    return '\n'.join(lines) + '\n'
