"""Median times of several steps that take turns, so that a change of the machine's load touches
all of them alike."""
import statistics
import time
from typing import Any, Callable, Dict

import torch


def synchronize(device: str) -> None:
    """Waits for the work queued on ``device`` (a GPU's kernels run after their launch)."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def median_seconds(steps: Dict[str, Callable[[], Any]], warmup: int = 1, repeats: int = 5,
                   device: str = 'cpu') -> Dict[str, float]:
    """Runs every step ``warmup`` times, then ``repeats`` times timed, one after the other at
    each repetition; returns the median seconds of each."""
    if repeats < 1:
        raise ValueError(f'repeats={repeats}: at least one timed run is needed')
    for _ in range(warmup):
        for step in steps.values():
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            synchronize(device)
            start = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
