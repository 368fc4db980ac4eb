"""Speed and memory of backbones, measured side by side in one run.

Timings: the models take turns, repetition by repetition, so that a change of machine load touches
all of them alike; each figure is the median of ``repeats`` runs after ``warmup`` runs. Inference
runs with every model in one process. A training step runs with each model in a process of its
own, as training does: its speed depends on the state of the allocator's heap (glibc's malloc
slows down as the heap fills with holes of many sizes), and in one process every model would step
in the heap the others left behind (measured: HRFormer-S's step took 15% longer after mmpose's
port had trained in the same process). Those processes run a group at a time, the models compared
with the same HRNet, so that their memory fits the machine, and in several rounds of fresh
processes: where the heap puts the tensors differs from one process to the next, and so does the
step's speed. Peak memory: each (model, mode) runs in a fresh process of its own, so that no
model's peak hides another's; on the CPU it is the process's peak resident set size during the
steps (``VmHWM``, reset after the imports; it includes the ~0.8 GB of the libraries and the
model's weights), on a GPU ``torch.cuda.max_memory_allocated``.

On the CPU the training peak is measured twice: with glibc's allocator as it comes, and with
every allocation above 64 KB served by a mapping of its own that goes back to the system when
freed (:data:`UNPOOLED_ENV`). glibc keeps freed heap memory for reuse, and how much of it the
process holds depends on the order of allocations and frees as much as on the live tensors; the
second figure is the peak of live memory. It is not a setting to train with: mapping and zeroing
pages at every allocation made training steps about twice as slow (measured).

On the CPU the training step is also timed, and its peak measured, with glibc keeping its heap
(:data:`KEPT_HEAP_ENV`), and so is inference at the larger batch (all models in one fresh process).
By default glibc hands the free memory at the top of its heap back to the system once it exceeds
twice the largest block it has mapped (up to 64 MB), and the next step gets it back page by page,
each page a fault that the kernel zeroes. A model that keeps little for backward leaves its heap's
top free after every step and pays this at every step (batch 8, 256x192, measured: HRFormer-S
6,000-374,000 page faults per step, HRNet-W32 77,000-121,000, mmpose's HRFormer-S, whose 4 GB heap
stays in use, none); the report gives the median count of a step beside its time. The second
setting is what an allocator that keeps its memory (jemalloc and tcmalloc, which PyTorch's CPU
tuning guide recommends) gives every model alike.

On request, inference at the larger batch is also timed through ``torch.compile``
(:func:`compile_for_inference`), every model eager and compiled in one fresh process, taking
turns: what a compiler makes of each model's code, beside what its code does in eager mode.
"""
import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .benchmark_models import MODELS, build_backbone
from .complexity import count_flops_and_params

Size = Tuple[int, int]

#: Environment of the "unpooled" CPU memory runs: glibc maps every allocation above 64 KB on its
#: own (a fixed threshold also turns off glibc's raising of it as large blocks are freed).
UNPOOLED_ENV = {'MALLOC_MMAP_THRESHOLD_': '65536'}

#: Environment of the "kept heap" CPU training runs: glibc never trims its heap, and serves blocks
#: up to 32 MB from it (the ceiling of its own raising of the threshold, which a fixed setting
#: turns off); larger blocks are mapped on their own as before.
KEPT_HEAP_ENV = {'MALLOC_TRIM_THRESHOLD_': str(2**40), 'MALLOC_MMAP_THRESHOLD_': str(32 * 2**20)}

#: What the report says of the kept-heap figures.
KEPT_HEAP_NOTE = (
    'The training step and its peak RSS again, each model in a fresh process whose glibc keeps '
    'its heap (' + ', '.join(f'{key}={value}' for key, value in KEPT_HEAP_ENV.items()) + '), '
    'and inference at the larger batch, all models in one such process. As glibc comes, a model '
    'that keeps little for backward hands the top of its heap back to the system after every '
    'step and takes it back in the next, a page fault per 4 KB page; an allocator that keeps its '
    'memory (this setting, jemalloc, tcmalloc) spares every model that.')


#: What the report says of the compiled figures.
COMPILED_NOTE = (
    'Inference at the larger batch through torch.compile (inductor) with the weights frozen '
    'into the graph as constants (its `freezing`), beside the eager models, all in one fresh '
    'process, taking turns after the warm-up that compiles them. The compiler makes its own '
    'fusions and memory plan, whatever the model\'s code does in eager mode.')


def parse_size(text: str) -> Size:
    """``'256x192'`` -> ``(256, 192)``: an input size given on the command line."""
    try:
        height, width = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size {text!r} is not HEIGHTxWIDTH, e.g. 256x192')
    return height, width


def _loss(outputs) -> torch.Tensor:
    return sum(out.float().mean() for out in outputs)


class Runner:
    """Runs a model's inference and training steps on one device, in one precision.

    Args:
        device: ``'cpu'`` or ``'cuda'``.
        dtype: ``'fp32'``, or ``'bf16'`` / ``'fp16'`` for ``torch.autocast``.
    """

    def __init__(self, device: str = 'cpu', dtype: str = 'fp32'):
        if dtype not in ('fp32', 'bf16', 'fp16'):
            raise ValueError(f"dtype={dtype!r}: choose 'fp32', 'bf16' or 'fp16'")
        self.device, self.dtype = device, dtype

    def autocast(self):
        if self.dtype == 'fp32':
            return nullcontext()
        dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}[self.dtype]
        return torch.autocast(self.device, dtype=dtype)

    def sync(self) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()

    def images(self, batch: int, size: Size) -> torch.Tensor:
        return torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(0)).to(
            self.device)

    def infer(self, model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
        """One forward pass in eval mode, without gradients."""
        model.eval()

        def step():
            with torch.no_grad(), self.autocast():
                model(x)
        return step

    def train(self, model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
        """One training step: forward, backward, SGD with momentum."""
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

        def step():
            optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                loss = _loss(model(x))
            loss.backward()
            optimizer.step()
        return step

    def time(self, step: Callable[[], None]) -> float:
        self.sync()
        start = time.perf_counter()
        step()
        self.sync()
        return time.perf_counter() - start


def median_times(runner: Runner, steps: Dict[str, Callable[[], None]], warmup: int,
                 repeats: int) -> Dict[str, float]:
    """Median seconds of each step; the steps take turns at every repetition."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            times[name].append(runner.time(step))
    return {name: statistics.median(values) for name, values in times.items()}


def measure_timings(names: Sequence[str], sizes: Sequence[Size], batch: int, runner: Runner,
                    warmup: int = 1, repeats: int = 5, compiled: bool = False,
                    train_rounds: int = 1) -> Dict[str, dict]:
    """Parameters, FLOPs (batch 1, per size), latency at batch 1 (per size), and at the first
    size: seconds per batch of ``batch`` in inference and per training step (and the step's
    minor page faults; over ``train_rounds`` rounds of fresh processes, see
    :func:`median_train_steps`).

    Returns ``{name: {'params', 'flops': [...], 'latency': [...], 'batch_time', 'train_step',
    'train_step_page_faults'}}``, lists in the order of ``sizes``; on the CPU also
    ``'batch_time_kept_heap'``, ``'train_step_kept_heap'`` and
    ``'train_step_kept_heap_page_faults'``, under :data:`KEPT_HEAP_ENV`; with ``compiled``
    also ``'batch_time_compiled'`` (:func:`compile_for_inference`) and
    ``'batch_time_beside_compiled'`` (eager, in the same fresh process, taking turns with it).
    """
    models = {name: build_backbone(name).to(runner.device) for name in names}
    results = {name: dict(params=sum(p.numel() for p in model.parameters()), flops=[],
                          latency=[]) for name, model in models.items()}
    for size in sizes:
        for name, model in models.items():
            results[name]['flops'].append(count_flops_and_params(model.cpu(), (3, *size))['flops'])
            model.to(runner.device)
        x = runner.images(1, size)
        steps = {name: runner.infer(model, x) for name, model in models.items()}
        for name, seconds in median_times(runner, steps, warmup, repeats).items():
            results[name]['latency'].append(seconds)
    steps = {name: runner.infer(model, runner.images(batch, sizes[0]))
             for name, model in models.items()}
    for name, seconds in median_times(runner, steps, warmup, repeats).items():
        results[name]['batch_time'] = seconds
    del models, steps
    settings = {'train_step': None}
    if runner.device == 'cpu':
        for name, seconds in median_batch_times_elsewhere(names, sizes[0], batch, runner, warmup,
                                                          repeats, KEPT_HEAP_ENV).items():
            results[name]['batch_time_kept_heap'] = seconds['eager']
        settings['train_step_kept_heap'] = KEPT_HEAP_ENV
    if compiled:
        for name, seconds in median_batch_times_elsewhere(
                names, sizes[0], batch, runner, warmup, repeats,
                variants=('eager', 'compiled')).items():
            results[name]['batch_time_beside_compiled'] = seconds['eager']
            results[name]['batch_time_compiled'] = seconds['compiled']
    for key, env in settings.items():
        for group in _baseline_groups(names):
            trained = median_train_steps(group, sizes[0], batch, runner, warmup, repeats, env,
                                         train_rounds)
            for name, (seconds, faults) in trained.items():
                results[name][key] = seconds
                results[name][f'{key}_page_faults'] = faults
    return results


def _baseline_groups(names: Sequence[str]) -> List[List[str]]:
    """``names`` grouped by the HRNet they are compared with, in order."""
    groups: Dict[str, List[str]] = {}
    for name in names:
        groups.setdefault(MODELS[name].baseline, []).append(name)
    return list(groups.values())


def _minor_page_faults() -> int:
    """Page faults of this process so far that the kernel served without reading a disk: on a
    heap handed back to the system, one per 4 KB page taken back."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _train_step_worker(connection, name: str, size: Size, batch: int, device: str,
                       dtype: str) -> None:
    """Builds model ``name`` and times one training step each time it is asked to (a message
    True), until it is told to stop (False); answers with the seconds and the minor page faults
    of the step."""
    import mmpose.models  # noqa: F401  (every model's process holds the same libraries)
    runner = Runner(device, dtype)
    step = runner.train(build_backbone(name).to(device), runner.images(batch, size))
    while connection.recv():
        faults = _minor_page_faults()
        seconds = runner.time(step)
        connection.send((seconds, _minor_page_faults() - faults))


def compile_for_inference(model: nn.Module) -> nn.Module:
    """``model`` through ``torch.compile`` (inductor) with its weights frozen into the graph
    as constants (inductor's ``freezing``: BatchNorms folded into convolutions, weights packed
    for oneDNN ahead of time), the setting for inference. Sets ``freezing`` for the whole
    process: call it in a process of its own. The graph is compiled at the first call (minutes
    on a CPU)."""
    import torch._inductor.config as inductor_config
    inductor_config.freezing = True
    return torch.compile(model)


#: How a model runs inference: as it is, or through :func:`compile_for_inference`.
VARIANTS = {'eager': lambda model: model, 'compiled': compile_for_inference}


def _batch_time_worker(connection, names: Sequence[str], size: Size, batch: int, device: str,
                       dtype: str, warmup: int, repeats: int, variants: Sequence[str]) -> None:
    """Builds the models ``names`` and sends the median seconds of their inference at batch
    ``batch`` (:func:`median_times`) in each of ``variants`` (keys of :data:`VARIANTS`):
    ``{name: {variant: seconds}}``, all taking turns."""
    import mmpose.models  # noqa: F401  (the same libraries as the other processes)
    runner = Runner(device, dtype)
    x = runner.images(batch, size)
    models = {name: build_backbone(name).to(device) for name in names}
    steps = {(name, variant): runner.infer(VARIANTS[variant](model), x)
             for name, model in models.items() for variant in variants}
    times = median_times(runner, steps, warmup, repeats)
    connection.send({name: {variant: times[name, variant] for variant in variants}
                     for name in names})


def median_batch_times_elsewhere(names: Sequence[str], size: Size, batch: int, runner: Runner,
                                 warmup: int, repeats: int, env: Optional[Dict[str, str]] = None,
                                 variants: Sequence[str] = ('eager', )
                                 ) -> Dict[str, Dict[str, float]]:
    """:func:`median_times` of inference at batch ``batch`` in each of ``variants`` (keys of
    :data:`VARIANTS`), every model in one fresh process (``spawn``, ``env`` added to its
    environment), all taking turns: ``{name: {variant: seconds}}``."""
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise ValueError(f'variants {unknown} are not among {sorted(VARIANTS)}')
    connection, process = _start_worker(_batch_time_worker, (
        list(names), size, batch, runner.device, runner.dtype, warmup, repeats, list(variants)),
        env)
    try:
        return _answer(connection, process, 'inference')
    finally:
        process.join()


def _start_worker(target: Callable, args: tuple, env: Optional[Dict[str, str]]):
    """Starts ``target(connection, *args)`` in a fresh process (``spawn``: nothing inherited from
    this one), ``env`` added to its environment. Returns this end of the connection and the
    process."""
    context = multiprocessing.get_context('spawn')
    connection, child = context.Pipe()
    process = context.Process(target=target, daemon=True, args=(child, *args))
    with _environment(env):
        process.start()
    return connection, process


def _answer(connection, process, what: str, request=None):
    """Sends ``request`` (unless None) to a worker and returns its answer; if the worker died,
    an error that says what it was timing and its exit code."""
    try:
        if request is not None:
            connection.send(request)
        return connection.recv()
    except (EOFError, BrokenPipeError):
        process.join()
        raise RuntimeError(f'the process timing {what} died (exit code {process.exitcode}); '
                           'its error is above')


@contextmanager
def _environment(env: Optional[Dict[str, str]]):
    """``env`` added to this process's environment, which the processes started meanwhile
    inherit (glibc reads its settings as a process starts, so this process is not affected)."""
    saved = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def median_train_steps(names: Sequence[str], size: Size, batch: int, runner: Runner,
                       warmup: int, repeats: int, env: Optional[Dict[str, str]] = None,
                       rounds: int = 1) -> Dict[str, Tuple[float, float]]:
    """Median seconds and median minor page faults of a training step of each model, each in a
    fresh process of its own (started with ``spawn``: nothing inherited from this one, ``env``
    added to its environment), the models taking turns; over ``rounds`` rounds of fresh
    processes, the median of the rounds' medians. A step's speed depends on where glibc's heap
    happens to put its tensors, which differs from one process to the next (ours against the
    port, as glibc comes: 0.91x-1.11x in single rounds, HRFormer-T and -S, batch 8 at
    256x192), so one process per model is one draw of that."""
    if rounds < 1:
        raise ValueError(f'rounds={rounds!r}: at least one round of processes is needed')
    per_round = [_train_step_round(names, size, batch, runner, warmup, repeats, env)
                 for _ in range(rounds)]
    return {name: _medians([answers[name] for answers in per_round]) for name in names}


def _medians(rows: Sequence[Tuple[float, ...]]) -> Tuple[float, ...]:
    """The median of each position over ``rows`` of equal length."""
    return tuple(statistics.median(column) for column in zip(*rows))


def _train_step_round(names: Sequence[str], size: Size, batch: int, runner: Runner,
                      warmup: int, repeats: int,
                      env: Optional[Dict[str, str]]) -> Dict[str, Tuple[float, float]]:
    """One round of :func:`median_train_steps`: a fresh process per model."""
    connections, processes = {}, []
    try:
        for name in names:
            connections[name], process = _start_worker(_train_step_worker, (
                name, size, batch, runner.device, runner.dtype), env)
            processes.append(process)
        steps = {name: [] for name in names}
        for repetition in range(warmup + repeats):
            for (name, connection), process in zip(connections.items(), processes):
                answer = _answer(connection, process, f'the training step of {name}', True)
                if repetition >= warmup:
                    steps[name].append(answer)
        return {name: _medians(answers) for name, answers in steps.items()}
    finally:
        for connection, process in zip(connections.values(), processes):
            if process.is_alive():
                connection.send(False)
            process.join()


def _rss_high_water_mark_mb() -> float:
    """Peak resident set size of this process since the last reset, in MB (Linux)."""
    with open('/proc/self/status') as status:
        line = next(line for line in status if line.startswith('VmHWM:'))
    return int(line.split()[1]) / 2**10


def _reset_rss_high_water_mark() -> None:
    """Lets the peak start again from the current size, so that imports do not count
    (Linux >= 4.0: writing 5 to clear_refs resets VmHWM)."""
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')


def peak_memory_here(name: str, mode: str, size: Size, batch: int, runner: Runner) -> float:
    """Peak memory in MB during two ``mode`` (``'train'`` or ``'infer'``) steps of model
    ``name``, in this process (which should be fresh): with the model built and the input made,
    resident memory is the libraries + the model; its peak during the steps is what is returned."""
    model = build_backbone(name).to(runner.device)
    step = getattr(runner, mode)(model, runner.images(batch, size))
    if runner.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    else:
        _reset_rss_high_water_mark()
    for _ in range(2):
        step()
    runner.sync()
    if runner.device == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    return _rss_high_water_mark_mb()


def peak_memory(name: str, mode: str, size: Size, batch: int, runner: Runner,
                env: Optional[Dict[str, str]] = None) -> float:
    """:func:`peak_memory_here` in a fresh Python process, with ``env`` added to its
    environment."""
    request = dict(name=name, mode=mode, size=list(size), batch=batch, device=runner.device,
                   dtype=runner.dtype)
    process = subprocess.run(
        [sys.executable, '-m', 'mmhrformer.analysis.benchmark', json.dumps(request)],
        capture_output=True, text=True, env={**os.environ, **(env or {})})
    if process.returncode:
        raise RuntimeError(f'measuring the peak memory of {name} ({mode}) failed:\n'
                           f'{process.stderr[-3000:]}')
    return float(process.stdout.strip().splitlines()[-1])


def measure_peak_memory(names: Sequence[str], size: Size, batch: int,
                        runner: Runner) -> Dict[str, Dict[str, float]]:
    """``{name: {'train': MB, 'infer': MB}}``, each in a fresh process; on the CPU also
    ``'train_unpooled'`` and ``'train_kept_heap'``, the training peaks under
    :data:`UNPOOLED_ENV` and :data:`KEPT_HEAP_ENV`."""
    memory = {}
    for name in names:
        memory[name] = {mode: peak_memory(name, mode, size, batch, runner)
                        for mode in ('train', 'infer')}
        if runner.device == 'cpu':
            for key, env in (('train_unpooled', UNPOOLED_ENV), ('train_kept_heap', KEPT_HEAP_ENV)):
                memory[name][key] = peak_memory(name, 'train', size, batch, runner, env)
    return memory


def _worker(argv: List[str]) -> None:
    import mmpose.models  # noqa: F401  (every model's process holds the same libraries)
    request = json.loads(argv[0])
    runner = Runner(request['device'], request['dtype'])
    print(peak_memory_here(request['name'], request['mode'], tuple(request['size']),
                           request['batch'], runner))


if __name__ == '__main__':
    _worker(sys.argv[1:])
