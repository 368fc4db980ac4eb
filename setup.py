"""Installs mmhrformer. The OpenMMLab stack itself is installed by `make setup` (see README)."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name: str) -> list:
    """Returns the requirement lines of requirements/<name>.txt, without comments."""
    lines = (ROOT / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


def read_version() -> str:
    namespace = {}
    exec((ROOT / 'mmhrformer' / 'version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='mmhrformer',
    version=read_version(),
    description='HRFormer (High-Resolution Transformer) for the OpenMMLab 2.0 toolboxes',
    long_description=(ROOT / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmhrformer', 'mmhrformer.*']),
    python_requires='>=3.8',
    install_requires=read_requirements('runtime'),
    extras_require={
        'mim': read_requirements('mminstall'),
        'tests': read_requirements('tests'),
        'optional': read_requirements('optional'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
