"""Every config of ours follows the recipe that docs/recipes.md states for it: the test reads the
tables of that file and checks each "ours" value against the config as mmengine resolves it, so
the document and the configs cannot drift apart."""
import ast
import fnmatch
import re
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / 'docs' / 'recipes.md'
COLUMNS = ['configs', 'setting', 'key', 'ours', 'official', 'official source', 'why we differ']
#: The toolboxes whose configs follow a published recipe, and how many rows each config needs.
COVERED = {'mmpretrain': 20, 'mmpose': 20, 'mmseg': 30}
MISSING = object()


def recipe_rows(text: str) -> list:
    """The rows of every table in ``text`` whose header is ``COLUMNS``, as dicts."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith('|'):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if header is None:
            header = cells
        elif set(''.join(cells)) <= set('- '):
            continue
        elif header == COLUMNS:
            rows.append(dict(zip(COLUMNS, cells)))
    return rows


def resolve(cfg, key: str):
    """The value at ``key`` in ``cfg``: dotted names, ``[i]`` list indices and ``[type=X]`` for
    the list item whose type is X; ``MISSING`` when a name is absent, ``None`` stays ``None``."""
    node = cfg
    for name, selector in re.findall(r'([^.\[\]]+)|\[([^\]]+)\]', key):
        if node is None:
            return MISSING
        if name:
            node = node.get(name, MISSING) if hasattr(node, 'get') else MISSING
        elif selector.startswith('type='):
            found = [item for item in node if item.get('type') == selector[len('type='):]]
            assert len(found) == 1, f'{key}: {len(found)} items of {selector}'
            node = found[0]
        else:
            node = node[int(selector)]
        if node is MISSING:
            return MISSING
    return node


def normalised(value):
    """Tuples and lists compare equal; so do config dicts and dicts."""
    if isinstance(value, (list, tuple)):
        return [normalised(v) for v in value]
    if hasattr(value, 'items'):
        return {k: normalised(v) for k, v in value.items()}
    return value


ROWS = recipe_rows(RECIPES.read_text())
CONFIGS = sorted(p for toolbox in COVERED for p in (ROOT / 'configs' / toolbox).glob('*.py'))


def rows_for(config: Path) -> list:
    return [row for row in ROWS if fnmatch.fnmatch(config.stem, row['configs'])]


def test_the_tables_parse_and_every_row_names_a_config():
    assert len(ROWS) > 100
    stems = [config.stem for config in CONFIGS]
    for row in ROWS:
        assert fnmatch.filter(stems, row['configs']), row
        ast.literal_eval(row['ours'])  # a Python literal, or the row is malformed
        assert row['official'], row


def test_resolve_reads_names_indices_and_types():
    cfg = Config(dict(a=dict(b=[dict(type='X', c=1), dict(type='Y', c=(2, 3))]), n=None))
    assert resolve(cfg, 'a.b[0].c') == 1
    assert resolve(cfg, 'a.b[type=Y].c[1]') == 3
    assert resolve(cfg, 'a.b[type=X].d') is MISSING
    assert resolve(cfg, 'n') is None
    assert resolve(cfg, 'n.m') is MISSING


@pytest.mark.parametrize('config', CONFIGS, ids=lambda path: path.stem)
def test_config_follows_the_recipe_table(config):
    rows = rows_for(config)
    if config.stem.startswith('fcn_'):
        assert not rows  # ours: no official FCN model
        return
    assert len(rows) >= COVERED[config.parent.name], f'{config.stem}: {len(rows)} rows'
    cfg = Config.fromfile(config)
    wrong = []
    for row in rows:
        want = ast.literal_eval(row['ours'])
        got = resolve(cfg, row['key'])
        if got is MISSING and want is None:
            continue  # an absent key means None to the builders
        if normalised(got) != normalised(want):
            wrong.append(f"{row['key']}: config {got!r}, docs/recipes.md {want!r}")
    assert not wrong, '\n'.join(wrong)


@pytest.mark.parametrize('config', [c for c in CONFIGS if not c.stem.startswith('fcn_')],
                         ids=lambda path: path.stem)
def test_backbone_starts_from_published_imagenet_weights(config):
    cfg = Config.fromfile(config)
    init_cfg = cfg.model.backbone.get('init_cfg')
    if config.parent.name == 'mmpretrain':
        assert init_cfg is None  # trained on ImageNet from scratch
        return
    assert init_cfg.type == 'Pretrained'
    arch = cfg.model.backbone.arch
    expected = {'small': 'hrformer_small-09516375_20220226.pth',
                'base': 'hrformer_base-32815020_20220226.pth', 'tiny': 'hrt_tiny.pth'}[arch]
    assert init_cfg.checkpoint.endswith(expected)
