# Set-up and the two everyday commands. `make demo` and `make test` each create the
# virtual environment on first use (PyTorch pinned by constraints.txt).
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

# The main job: a VAE on scikit-learn's bundled digits (no download), about 10 seconds of training.
demo: $(STAMP)
	$(VENV)/bin/genlab train --config configs/vae-digits.yaml

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

# Benchmark dependencies (pythae) and the scripts whose JSON feeds benchmarks/RESULTS.md.
bench: $(STAMP)
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[bench]"
	$(VENV)/bin/python benchmarks/vs_pythae.py
	$(VENV)/bin/python benchmarks/trainer_overhead.py
	$(VENV)/bin/python benchmarks/make_results.py

clean:
	rm -rf $(VENV) runs .pytest_cache
