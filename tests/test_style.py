"""The code keeps the project's style: flake8, with the settings of setup.cfg (100 columns), finds
nothing in the package, the configs, the projects, the tests or the tools."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ['mmhrformer', 'configs', 'projects', 'tests', 'tools', 'setup.py']


def test_flake8_finds_nothing():
    run = subprocess.run([sys.executable, '-m', 'flake8', *CHECKED], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
