"""tools/run_local.py (shipped in every bundle): runs the Dockerfile's command without Docker."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "harness" / "templates" / "bundle" / "run_local.py"


@pytest.fixture(scope="module")
def rl():
    spec = importlib.util.spec_from_file_location("run_local", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_exec_form_with_env_and_training_step(rl) -> None:
    argv, env, runs = rl.parse(
        "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n# comment\nENV PORT=8000 MODEL=m.joblib\n"
        "RUN pip install -r requirements.txt\nRUN python -m pip install x\nRUN python train.py --out m.joblib\n"
        'CMD ["uvicorn", "app.main:app", \\\n     "--host", "0.0.0.0", "--port", "8000"]\n'
    )
    assert argv == ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
    assert env == {"PORT": "8000", "MODEL": "m.joblib"}
    assert runs == [[sys.executable, "train.py", "--out", "m.joblib"]]


def test_shell_form_goes_through_sh_and_later_stage_wins(rl) -> None:
    argv, _, _ = rl.parse('FROM a\nCMD ["old"]\nFROM b\nENTRYPOINT ["tini", "--"]\nCMD uvicorn app:app --port ${PORT:-8000}\n')
    assert argv == ["tini", "--", "/bin/sh", "-c", "uvicorn app:app --port ${PORT:-8000}"]


def test_local_binds_loopback_and_the_port(rl) -> None:
    out = rl.local(["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port=9000"], "8123")
    assert out == [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "8123"]
    out = rl.local(["gunicorn", "-b", "0.0.0.0:80", "app:app"], "8000")
    assert out[-2:] == ["--bind", "127.0.0.1:8000"] and "0.0.0.0:80" not in out
    assert rl.local(["python3", "serve.py"], "8000") == [sys.executable, "serve.py"]


def test_env_paths_inside_workdir_point_into_the_bundle(rl) -> None:
    _, env, _ = rl.parse("FROM x\nENV MODEL_DIR=/app/model OTHER=/etc/x TOP=/app\nWORKDIR /app\nCMD [\"python\", \"serve.py\"]\n",
                         "/home/me/bundle")
    assert env == {"MODEL_DIR": "/home/me/bundle/model", "OTHER": "/etc/x", "TOP": "/home/me/bundle"}


def test_the_brief_says_what_the_local_runtime_really_runs(rl) -> None:
    # run_local replays plain `RUN python ...` steps and nothing else; the brief must say the same
    brief = (Path(__file__).resolve().parents[2] / "exercises" / "support-triage" / "brief.md").read_text()
    _, _, runs = rl.parse("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nRUN pip install -r requirements.txt\n"
                          "RUN python train.py\nCMD [\"python\", \"serve.py\"]\n")
    assert runs == [["python", "train.py"]] or [r[-1] for r in runs] == ["train.py"]
    assert "without running the build steps" not in brief
    assert "replays only the Dockerfile's plain\n  `RUN python ...` steps" in brief
