"""The benchmark's Markdown tables and PNG plot."""
from typing import Dict, List, Optional, Sequence, Tuple

from .benchmark_models import MODELS

Size = Tuple[int, int]


def _ratio(value: float, baseline: float) -> str:
    return f'{value / baseline:.2f}x'


def _port_of(name: str) -> Optional[str]:
    """The name of mmpose's port of our model ``name``; None for the other models."""
    return f'mmpose {name}' if MODELS[name].family == 'ours' else None


def summary_table(timings: Dict[str, dict], memory: Dict[str, Dict[str, float]], size: Size,
                  batch: int) -> List[str]:
    """One row per model at the reference ``size``; speed ratios are the other model's time over
    this one's (above 1: this one is faster), memory ratios this one's over the other's."""
    lines = [
        f'| model | params (M) | GFLOPs | latency bs1 (ms) | throughput bs{batch} (img/s) | '
        f'train step bs{batch} (ms) | page faults per train step | peak mem train (MB) | '
        f'peak mem train, unpooled (MB) | peak mem infer (MB) | bs{batch} speed vs mmpose port | '
        f'bs{batch} speed vs HRNet | train step vs mmpose port | train mem vs HRNet | '
        'train mem vs HRNet, unpooled |',
        '| --- ' * 15 + '|']
    for name, result in timings.items():
        port, hrnet = _port_of(name), MODELS[name].baseline
        mem = memory.get(name, {})
        cells = [name, f"{result['params'] / 1e6:.2f}", f"{result['flops'][0] / 1e9:.2f}",
                 f"{result['latency'][0] * 1e3:.1f}", f"{batch / result['batch_time']:.1f}",
                 f"{result['train_step'] * 1e3:.0f}", f"{result['train_step_page_faults']:.0f}",
                 *(f'{mem[key]:.0f}' if key in mem else '-'
                   for key in ('train', 'train_unpooled', 'infer'))]
        for other, key in ((port, 'batch_time'), (hrnet, 'batch_time'), (port, 'train_step')):
            cells.append(_ratio(timings[other][key], result[key]) if other in timings else '-')
        for key in ('train', 'train_unpooled'):
            cells.append(_ratio(mem[key], memory[hrnet][key])
                         if key in mem and key in memory.get(hrnet, {}) else '-')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def kept_heap_table(timings: Dict[str, dict], memory: Dict[str, Dict[str, float]],
                    batch: int) -> List[str]:
    """Inference, the training step and its peak with glibc keeping its heap (CPU runs only;
    see ``KEPT_HEAP_ENV`` in :mod:`.benchmark`), beside the ratios with glibc as it comes;
    ratios as in :func:`summary_table`."""
    lines = [f'| model | throughput bs{batch} (img/s) | bs{batch} speed vs mmpose port | '
             f'bs{batch} speed vs mmpose port, glibc default | train step bs{batch} (ms) | '
             'page faults per train step | train step vs mmpose port | '
             'train step vs mmpose port, glibc default | peak mem train (MB) | '
             'train mem vs HRNet |',
             '| --- ' * 10 + '|']
    for name, result in timings.items():
        port = timings.get(_port_of(name))
        mem, hrnet_mem = memory.get(name, {}), memory.get(MODELS[name].baseline, {})
        kept_and_default = [[_ratio(port[key], result[key]) if port else '-'
                             for key in (f'{measure}_kept_heap', measure)]
                            for measure in ('batch_time', 'train_step')]
        cells = [name, f"{batch / result['batch_time_kept_heap']:.1f}", *kept_and_default[0],
                 f"{result['train_step_kept_heap'] * 1e3:.0f}",
                 f"{result['train_step_kept_heap_page_faults']:.0f}", *kept_and_default[1],
                 f"{mem['train_kept_heap']:.0f}" if 'train_kept_heap' in mem else '-',
                 _ratio(mem['train_kept_heap'], hrnet_mem['train_kept_heap'])
                 if 'train_kept_heap' in mem and 'train_kept_heap' in hrnet_mem else '-']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def compiled_table(timings: Dict[str, dict], batch: int) -> List[str]:
    """Inference at batch ``batch``, eager and compiled (``torch.compile``, see
    ``compile_for_inference`` in :mod:`.benchmark`), measured in one process taking turns; the
    compiled model's speed against the compiled port and HRNet (ratios as in
    :func:`summary_table`)."""
    lines = [f'| model | throughput bs{batch}, eager (img/s) | throughput bs{batch}, compiled '
             '(img/s) | compiled speed vs eager | compiled speed vs mmpose port, compiled | '
             'compiled speed vs HRNet, compiled |',
             '| --- ' * 6 + '|']
    for name, result in timings.items():
        cells = [name, f"{batch / result['batch_time_beside_compiled']:.1f}",
                 f"{batch / result['batch_time_compiled']:.1f}",
                 _ratio(result['batch_time_beside_compiled'], result['batch_time_compiled'])]
        for other in (_port_of(name), MODELS[name].baseline):
            cells.append(_ratio(timings[other]['batch_time_compiled'],
                                result['batch_time_compiled']) if other in timings else '-')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def growth_table(timings: Dict[str, dict], sizes: Sequence[Size]) -> List[str]:
    """Batch-1 latency and FLOPs per input size, and how each grew from the first size, beside
    how the number of pixels grew."""
    pixels = [h * w for h, w in sizes]
    header = ' | '.join(f'{h}x{w}' for h, w in sizes)
    lines = [f'| model | {header} | time growth | GFLOPs growth |',
             '| --- ' * (len(sizes) + 3) + '|',
             '| pixels (x first size) | ' + ' | '.join(f'{p / pixels[0]:.1f}x' for p in pixels)
             + ' | | |']
    for name, result in timings.items():
        cells = [f"{t * 1e3:.0f} ms / {f / 1e9:.1f} G"
                 for t, f in zip(result['latency'], result['flops'])]
        growth = result['latency'][-1] / result['latency'][0]
        flops_growth = result['flops'][-1] / result['flops'][0]
        lines.append(f"| {name} | {' | '.join(cells)} | {growth:.1f}x | {flops_growth:.1f}x |")
    return lines


def plot(timings: Dict[str, dict], sizes: Sequence[Size], path: str, title: str) -> None:
    """Left: batch-1 latency against pixels (log-log). Right: published COCO AP against GFLOPs."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    pixels = [h * w for h, w in sizes]
    styles = {'ours': '-o', 'mmpose': '--s', 'hrnet': ':^'}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, result in timings.items():
        left.plot(pixels, [t * 1e3 for t in result['latency']], styles[MODELS[name].family],
                  label=name)
        ap = MODELS[name].coco_ap
        if ap is not None:
            right.scatter(result['flops'][0] / 1e9, ap, s=result['params'] / 2e5)
            right.annotate(name, (result['flops'][0] / 1e9, ap), textcoords='offset points',
                           xytext=(6, 4))
    left.set(xscale='log', yscale='log', xlabel='pixels per image', ylabel='latency, batch 1 (ms)',
             title='cost against input size')
    left.legend(fontsize=8)
    right.set(xlabel=f'GFLOPs at {sizes[0][0]}x{sizes[0][1]}',
              ylabel='COCO val AP, 256x192 (published)',
              title='accuracy against FLOPs (marker area ~ parameters)')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
