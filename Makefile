# The two commands of the README. Both set up everything on a fresh machine.
#   make run   - install, then serve the app on the bundled article at http://127.0.0.1:7860
#   make test  - install (with test tools and Chromium), then run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1

.PHONY: run test install install-dev chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	# torch first and pinned: the CPU wheel on this machine; an unpinned torch pulls a CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[ui,eval]"

install-dev: install chromium
	$(BIN)/pip install -q -e ".[ui,eval,dev]"

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi; }

run: install
	$(BIN)/qa serve --host 127.0.0.1 --port 7860

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q
