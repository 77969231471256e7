# shiftwork — see README.md. Every target runs from a clean clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SW := $(BIN)/shiftwork
STAMP := $(VENV)/.installed
BASE_IMAGE_NAME ?= shiftwork/base:py311

# User values (SUBMISSION, OUT, ...) may be anything a candidate named a file or a URL. make
# never expands them ($(value ...) takes the text as given, so `$(shell ...)` stays text), they
# reach the recipes only as environment variables SW_*, and the recipes quote them as
# "$$SW_X", so no shell re-reads them: `"`, `$(...)` and backticks arrive at the CLI verbatim.
override SW_SUBMISSION := $(value SUBMISSION)
override SW_SUBMISSIONS := $(value SUBMISSIONS)
override SW_EXERCISE := $(value EXERCISE)
override SW_OUT := $(value OUT)
override SW_RUNTIME := $(or $(value RUNTIME),auto)
override SW_CANDIDATE := $(value CANDIDATE)
override SW_PACKAGE_EXERCISE := $(or $(value EXERCISE),support-triage)
override SW_DATA := $(or $(value DATA),shiftwork-data)
override SW_PORT := $(or $(value PORT),8080)
unexport SUBMISSION SUBMISSIONS EXERCISE OUT RUNTIME CANDIDATE DATA PORT
export SW_SUBMISSION SW_SUBMISSIONS SW_EXERCISE SW_OUT SW_RUNTIME SW_CANDIDATE SW_PACKAGE_EXERCISE SW_DATA SW_PORT

.PHONY: setup test test-fast test-seeds test-authoring calibration demo grade package base-image bench openapi serve clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (shiftwork needs Python 3.11); set PY=/path/to/python3.11"; exit 2; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install shiftwork into it (idempotent)

# Two test processes on two cores: each OpenMP runtime (scikit-learn's trees, in the tests and in the local
# runtime's services) would start a thread per core and spin-wait for it, and the processes starved one
# another (test-fast took 4:07 instead of 3:21). One thread each; containers (the docker runtime) are not affected.
# Compiled modules and pytest's rewritten tests are written (__pycache__, ignored by git, by bundles and by
# solution copies) even where PYTHONDONTWRITEBYTECODE is set: else every test process rewrote every test
# module and every process a test starts compiled the project anew.
TEST_ENV := OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=

test: setup  ## the whole suite but the seed sweep, on two processes (docker tests skip without an engine unless SHIFTWORK_REQUIRE_DOCKER=1)
	$(TEST_ENV) $(BIN)/python -m pytest -q -m "not seeds and not authoring" -n 2 --dist loadfile --durations=30

test-seeds: setup  ## every solution of every exercise graded at six candidate seeds, in docker (~28 min)
	$(BIN)/python -m pytest -q -m seeds

test-authoring: setup  ## `shiftwork exercise new` on two real public tables (classification, regression), calibration and docker gradings included (~25 min)
	$(BIN)/python -m pytest -q -m authoring

test-fast: setup  ## everything but the slow and docker tests, on two processes (a test file stays on one)
	$(TEST_ENV) $(BIN)/python -m pytest -q -m "not slow and not docker and not seeds and not authoring" -n 2 --dist loadfile

calibration: setup  ## simulate every exercise's scenarios and ship the reports in calibration/ (after editing a scenario, a recipe or the data engine)
	@for e in $$(ls exercises); do test -f exercises/$$e/exercise.toml || continue; $(SW) scenarios check --ship -- "$$e" || exit $$?; done

demo: setup  ## grade the reference and accuracy-only solutions side by side (auto may fall back to local: our own code)
	$(BIN)/python -m harness.demo --runtime="$$SW_RUNTIME"

grade: setup  ## make grade SUBMISSION=path|url [EXERCISE=id] [OUT=dir] [RUNTIME=auto|docker|local] or SUBMISSIONS=folder
	$(SW) grade --runtime="$$SW_RUNTIME" $(if $(SW_EXERCISE),--exercise="$$SW_EXERCISE") $(if $(SW_OUT),--out="$$SW_OUT") $(if $(SW_SUBMISSIONS),--submissions="$$SW_SUBMISSIONS") $(if $(SW_SUBMISSION),-- "$$SW_SUBMISSION")

package: setup  ## make package EXERCISE=support-triage CANDIDATE=id [OUT=dir]
	$(SW) package --candidate="$$SW_CANDIDATE" $(if $(SW_OUT),--out="$$SW_OUT") -- "$$SW_PACKAGE_EXERCISE"

base-image: setup  ## build the offline Python base image (needs a Docker engine and debootstrap)
	$(SW) base-image --name $(BASE_IMAGE_NAME)

bench: setup  ## speed goals: data generation rate, grading wall time
	$(BIN)/python -m pytest -q benchmarks

openapi: setup  ## regenerate the contract file shipped with the starter
	$(SW) openapi --out exercises/support-triage/starter/contract/openapi.json

serve: setup  ## make serve [DATA=dir] [PORT=8080]: the web app on 127.0.0.1 with an embedded grading worker
	$(SW) serve --data="$$SW_DATA" --port="$$SW_PORT"

clean:
	rm -rf $(VENV) reports .pytest_cache

# `make worker`: values reach the CLI as SW_* environment variables, as above.
override SW_WORKER_NAME := $(value NAME)
unexport NAME
export SW_WORKER_NAME
.PHONY: worker
worker: setup  ## make worker [DATA=dir] [NAME=name]: one grading worker in the foreground (grades in Docker)
	$(SW) worker --data="$$SW_DATA" $(if $(SW_WORKER_NAME),--name="$$SW_WORKER_NAME")
