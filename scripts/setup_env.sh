#!/usr/bin/env bash
# Sets up the OpenMMLab 2.0 stack and this package in a virtual environment at .venv.
#
# Environment variables: VENV (the environment's folder, default .venv), TORCH_PINS (a file that
# pins torch and torchvision, default requirements/torch.txt; `make test-torch-floor` passes
# requirements/torch-floor.txt), PYTHON (the interpreter that creates the environment),
# MAX_JOBS (compile jobs for mmcv, default: the number of cores).
#
# Every step checks first whether its work is already done, so a re-run only does what is missing.
# A failing step stops the script with the step's name and the command's own error above it.
# Why each step looks the way it does is in README.md ("Installation") and ../shared/STACK.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
TORCH_PINS="$(realpath "${TORCH_PINS:-$ROOT/requirements/torch.txt}")"
PYTHON="${PYTHON:-python3.11}"
MMCV_VERSION=2.1.0
# Built wheels live outside the checkout so that every clone on this machine reuses them, in one
# folder per torch version (a mmcv wheel works only with the torch it was compiled against).
WHEELS_ROOT="${MMHRFORMER_WHEELS:-$HOME/.cache/mmhrformer/wheels}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"

current_step=""
trap 'echo "setup: FAILED at step \"$current_step\" (see the error above)" >&2' ERR

step() {
    current_step="$1"
    echo "setup: [$(date +%H:%M:%S)] $1"
}

pip_install() {
    # Some machines list package folders that do not exist; pip warns about each one: hidden.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$CONSTRAINTS" -c "$TORCH_PINS" "$@" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

has_module() {
    "$VENV/bin/python" -c "import $1" >/dev/null 2>&1
}

make_venv() {
    step "create the virtual environment $VENV"
    if [ -x "$VENV/bin/python" ]; then echo "  exists"; return; fi
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    "$PYTHON" -m venv "$VENV"
}

install_torch() {
    step "install build tools (requirements/build.txt), torch and torchvision (${TORCH_PINS##*/})"
    pip_install -r "$ROOT/requirements/build.txt" -r "$TORCH_PINS"
    WHEELS="$WHEELS_ROOT/torch-$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
}

build_mmcv_wheel() {
    # PyPI has only mmcv's source for this torch. Its setup.py asks for C++17, while torch >= 2.14's
    # headers need C++20; the flag is patched in an unpacked copy of the source (older torch
    # builds with C++20 too).
    local src
    src="$(mktemp -d)"
    "$VENV/bin/python" -m pip download --quiet --no-deps --no-binary mmcv "mmcv==$MMCV_VERSION" -d "$src"
    tar -xzf "$src"/mmcv-*.tar.gz -C "$src"
    sed -i 's/-std=c++17/-std=c++20/g' "$src/mmcv-$MMCV_VERSION/setup.py"
    mkdir -p "$WHEELS"
    (cd "$src/mmcv-$MMCV_VERSION" &&
        MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps -w "$WHEELS" .)
    rm -rf "$src"
}

install_mmcv() {
    step "install mmcv $MMCV_VERSION with compiled ops"
    if has_module mmcv.ops; then echo "  already installed"; return; fi
    if ! ls "$WHEELS"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
        echo "  no wheel in $WHEELS: building from source (about 25 minutes on 2 cores)"
        build_mmcv_wheel
    else
        echo "  reusing the wheel built earlier in $WHEELS"
    fi
    # A mmcv compiled against another torch (the pins changed) is replaced, not kept as satisfied.
    "$VENV/bin/python" -m pip uninstall --quiet --yes mmcv 2>/dev/null || true
    pip_install "$WHEELS"/mmcv-$MMCV_VERSION-*.whl
}

install_toolboxes() {
    step "install mmengine, mmpretrain, mmpose, mmsegmentation, mmdet, openmim (requirements/)"
    # xtcocotools' published wheel is compiled against numpy 1.x: build it against numpy 2.
    pip_install --no-binary xtcocotools \
        -r "$ROOT/requirements/mminstall.txt" \
        -r "$ROOT/requirements/runtime.txt" \
        -r "$ROOT/requirements/optional.txt" \
        -r "$ROOT/requirements/tests.txt" \
        xtcocotools
}

install_package() {
    step "install mmhrformer in editable mode"
    pip_install --no-build-isolation --no-deps -e "$ROOT"
}

check_stack() {
    step "check that the stack imports"
    "$VENV/bin/python" - <<'PY'
import mmcv, mmengine, mmpretrain, mmpose, mmseg, mmdet, torch, mmhrformer
from mmcv.ops import nms
print('  torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmengine', mmengine.__version__,
      '| mmpretrain', mmpretrain.__version__, '| mmpose', mmpose.__version__,
      '| mmseg', mmseg.__version__, '| mmdet', mmdet.__version__, '| mmhrformer', mmhrformer.__version__)
PY
}

make_venv
install_torch
install_mmcv
install_toolboxes
install_package
check_stack
step "done"
