# Set-up and the two everyday commands. `make demo` and `make test` each create the
# virtual environment on first use (PyTorch pinned by constraints.txt).
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: demo test browser bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

# The main job: a VAE on scikit-learn's bundled digits (no download); prints where its run directory is.
demo: $(STAMP)
	$(VENV)/bin/genlab train --config configs/vae-digits.yaml

# The explorer's browser test drives Debian's chromium: installed here when missing (needs root and apt).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser test (apt)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: the browser test will be skipped"; fi; }

# Two workers or more (one per core), each test module on one worker so its shared fixtures are built once.
test: $(STAMP) browser
	$(VENV)/bin/python -m pytest -q -n auto --dist loadscope

# Benchmark dependencies (pythae, PyOD, the JPEG XL plugin, mutmut) and every script whose JSON feeds benchmarks/RESULTS.md (many hours on 2 cores).
bench: $(STAMP)
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[bench]"
	$(VENV)/bin/python benchmarks/vs_pythae.py
	$(VENV)/bin/python benchmarks/trainer_overhead.py
	for script in classifier gan_modes gan_vs_reference nll_mnist sample_quality representation speed \
	              app_compression app_denoising app_inpainting app_anomaly app_traffic robustness mutation; do \
	  $(VENV)/bin/python benchmarks/$$script.py || exit 1; done
	$(VENV)/bin/python benchmarks/make_results.py

clean:
	rm -rf $(VENV) runs .pytest_cache
