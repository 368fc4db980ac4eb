# mmhrformer: `make demo` and `make test` are the quick start; both set up .venv when needed.
VENV   := .venv
PYTHON := $(VENV)/bin/python
READY  := $(VENV)/.setup-complete
# The oldest torch supported (requirements/torch-floor.txt), in a second environment.
FLOOR_VENV  := .venv-floor
FLOOR_READY := $(FLOOR_VENV)/.setup-complete

.PHONY: setup demo demo-cls demo-seg test test-torch-floor clean-venv

# The stack is (re)installed when the set-up script or a requirements file changes.
setup: $(READY)
$(READY): scripts/setup_env.sh setup.py $(wildcard requirements/*.txt)
	bash scripts/setup_env.sh
	touch $@

demo: setup
	$(PYTHON) projects/demo/run_demo.py --task pose

demo-cls: setup
	$(PYTHON) projects/demo/run_demo.py --task cls

demo-seg: setup
	$(PYTHON) projects/demo/run_demo.py --task seg

test: setup
	$(PYTHON) -m pytest tests

# The model and checkpoint tests on the torch floor of requirements/runtime.txt. Not part of
# `make test` nor CI: a second stack with its own mmcv build (86 minutes cold on a busy 2-core
# machine, then about 18 per run; README "Installation").
test-torch-floor: $(FLOOR_READY)
	$(FLOOR_VENV)/bin/python -m pytest tests/test_models tests/test_checkpoint -q
$(FLOOR_READY): scripts/setup_env.sh setup.py $(wildcard requirements/*.txt)
	VENV=$(CURDIR)/$(FLOOR_VENV) TORCH_PINS=$(CURDIR)/requirements/torch-floor.txt \
		bash scripts/setup_env.sh
	touch $@

clean-venv:
	rm -rf $(VENV)
