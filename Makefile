# mmhrformer: `make demo` and `make test` are the quick start; both set up .venv when needed.
VENV   := .venv
PYTHON := $(VENV)/bin/python
READY  := $(VENV)/.setup-complete

.PHONY: setup demo demo-cls demo-seg test clean-venv

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

clean-venv:
	rm -rf $(VENV)
