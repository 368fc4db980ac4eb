"""model-index.yml lists every config of ours exactly once, and only configs that exist."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_metafiles_cover_every_config():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    listed = []
    for metafile in index['Import']:
        content = yaml.safe_load((ROOT / metafile).read_text())
        collections = {c['Name'] for c in content['Collections']}
        for model in content['Models']:
            assert model['In Collection'] in collections, model['Name']
            assert (ROOT / model['Config']).is_file(), model['Config']
            assert Path(model['Config']).stem == model['Name']
            listed.append(model['Config'])
    on_disk = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').glob('*/*.py'))
    assert sorted(listed) == on_disk
