# sleepmoves: `make demo` serves the dashboard on simulated babies; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test bench lint model browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime
	$(PIP) -e ".[test]"
	# the published Sleep Regularity Index the tests check ours against (tests/test_regularity.py reads its
	# numpy/pandas-only sri module by path: the package's own heavy dependencies are not needed for that)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps pyActigraphy==1.2.2
	touch $@

demo: $(VENV)/.runtime
	$(BIN)/sleepmoves demo

# Debian's Chromium serves both the browser tests and PNG export; nothing downloads a browser.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian chromium + chromium-driver"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver fonts-dejavu-core >/dev/null; \
	else echo "browser tests and PNG export need Chromium: sudo apt-get install chromium chromium-driver"; fi

test: $(VENV)/.test browser
	$(BIN)/python -m pytest

# VIDEO_HOURS: the length of the 720p night the video figures analyse (12 h takes about 80 min on one core;
# `make bench VIDEO_HOURS=1` for a quick figure)
VIDEO_HOURS ?= 12
bench: $(VENV)/.test
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/video.py --hours $(VIDEO_HOURS)

lint: $(VENV)/.test
	$(BIN)/ruff check pipeline dashboard tests benchmarks
	$(BIN)/ruff format --check pipeline dashboard tests benchmarks

# Retrain the shipped phase model on simulated babies (seed 100; the demo uses seed 0), then evaluate it on
# babies it never saw (seed 22, all four age bands): the figures of data/models/README.md.
model: $(VENV)/.runtime browser
	rm -rf build/model && mkdir -p build/model
	$(BIN)/sleepmoves demo --no-serve --no-process --babies 24 --weeks 2 --seed 100 --input build/model/train --lake build/model/train-lake
	$(BIN)/sleepmoves train build/model/train/labels.csv --lake build/model/train-lake --out data/models/phase_model.skops
	$(BIN)/sleepmoves demo --no-serve --no-process --babies 16 --weeks 1 --seed 22 --input build/model/heldout --lake build/model/heldout-lake
	$(BIN)/sleepmoves evaluate build/model/heldout/labels.csv --lake build/model/heldout-lake \
		--csv data/models/evaluation --png data/models/evaluation/evaluation.png | tee data/models/evaluation/report.txt

clean:
	rm -rf build data/demo .pytest_cache
