"""Two processes on one machine, through ``mim train mmpose ... --launcher pytorch`` with the
gloo backend and the config's SyncBN (on the CPU: the stand-in of ``cpu_distributed.py``), end
with the same weights and BatchNorm statistics on both ranks."""
import torch

from mmhrformer.checkpoint import load_checkpoint_file
from .conftest import MIM, finish, start, train_args

#: 16 images, 2 ranks x 4 per batch, 3 epochs.
ITERATIONS = 6


def test_two_processes_end_with_identical_weights_and_statistics(coco_root, tmp_path):
    work_dir = tmp_path / 'work'
    command = [MIM, 'train', 'mmpose', *train_args(work_dir, coco_root),
               '--launcher', 'pytorch', '--gpus', '2']
    finish(start(command, tmp_path / 'train.log'), tmp_path / 'train.log')

    ranks = [torch.load(work_dir / f'rank{rank}.pth') for rank in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    differing = [key for key in ranks[0] if not torch.equal(ranks[0][key], ranks[1][key])]
    assert not differing, f'the ranks disagree on {differing}'
    # The ranks saw different images (the sampler splits the set), so their BatchNorm statistics
    # agree only because SyncBN averaged them.
    assert ranks[0]['backbone.stem.0.bn.num_batches_tracked'] == ITERATIONS
    checkpoint = load_checkpoint_file(str(work_dir / 'epoch_3.pth'))['state_dict']
    assert all(torch.equal(checkpoint[key], value) for key, value in ranks[0].items())
