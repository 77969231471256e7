# shiftwork — see README.md. Every target runs from a clean clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SW := $(BIN)/shiftwork
STAMP := $(VENV)/.installed
EXERCISE ?=
OUT ?=
RUNTIME ?= auto
SUBMISSION ?=
SUBMISSIONS ?=
CANDIDATE ?=
BASE_IMAGE_NAME ?= shiftwork/base:py311

.PHONY: setup test test-fast demo grade package base-image bench openapi clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (shiftwork needs Python 3.11); set PY=/path/to/python3.11"; exit 2; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install shiftwork into it (idempotent)

test: setup  ## the whole suite (docker tests skip without an engine unless SHIFTWORK_REQUIRE_DOCKER=1)
	$(BIN)/python -m pytest -q

test-fast: setup  ## everything but the slow and docker tests
	$(BIN)/python -m pytest -q -m "not slow and not docker"

demo: setup  ## grade the reference and accuracy-only solutions side by side
	$(BIN)/python -m grader.demo --runtime $(RUNTIME)

grade: setup  ## make grade SUBMISSION=path|url [EXERCISE=id] [OUT=dir] [RUNTIME=auto|docker|local] or SUBMISSIONS=folder
	$(SW) grade $(if $(SUBMISSION),"$(SUBMISSION)") $(if $(SUBMISSIONS),--submissions "$(SUBMISSIONS)") $(if $(EXERCISE),--exercise $(EXERCISE)) $(if $(OUT),--out "$(OUT)") --runtime $(RUNTIME)

package: setup  ## make package EXERCISE=support-triage CANDIDATE=id [OUT=dir]
	$(SW) package $(or $(EXERCISE),support-triage) --candidate "$(CANDIDATE)" $(if $(OUT),--out "$(OUT)")

base-image: setup  ## build the offline Python base image (needs a Docker engine and debootstrap)
	$(SW) base-image --name $(BASE_IMAGE_NAME)

bench: setup  ## speed goals: data generation rate, grading wall time
	$(BIN)/python -m pytest -q benchmarks

openapi: setup  ## regenerate the contract file shipped with the starter
	$(SW) openapi --out exercises/support-triage/starter/contract/openapi.json

clean:
	rm -rf $(VENV) reports .pytest_cache
