"""`shiftwork exercise new` on a numeric target: the dataset, the target's shift, the scenarios proposed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grader.errors import ConfigError
from grader.scenario import TargetScale
from harness.authoring import Authoring, inspect_table, new_dataset
from harness.data.engine import generate_training, load_recipe
from harness.data.sampler import World, apply_shifts, world_for


def priced(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """A price-like table: a size and a grade with signal, a group column (one small group), a positive target."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 0.4, n).round(2)
    grade = rng.choice(["a", "b", "c"], n)
    shop = rng.choice(["big", "mid", "small", "tiny"], n, p=[0.55, 0.27, 0.13, 0.05])
    price = (1000 * size ** 1.5 * np.where(grade == "a", 1.4, 1.0) * rng.lognormal(0, 0.15, n)).round(0)
    return pd.DataFrame({"size": size, "grade": grade, "shop": shop, "price": price})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIFTWORK_HOME", str(tmp_path))
    return tmp_path


def test_a_numeric_target_becomes_a_regression_recipe_with_real_values(home: Path) -> None:
    frame = priced()
    frame.loc[::50, "price"] = np.nan  # rows without a target teach nothing: left out, not a failure
    frame.to_csv(home / "prices.csv", index=False)
    new_dataset(Authoring(exercise_id="prices", table=home / "prices.csv", target="price", groups=["shop"]))
    recipe = load_recipe("prices")
    assert recipe.target == "regression" and recipe.classes == [] and recipe.source.label_codes == {}
    train = generate_training(recipe, seed=3).frame
    values = pd.to_numeric(train["price"], errors="coerce")
    assert values.notna().all()  # every training row has its number
    real = set(frame["price"].dropna())
    on_table = values.isin(real).mean()
    # most values are the table's own; a small share is keyed ten times too high or too low (label noise)
    keyed = (values.isin({v * 10 for v in real}) | values.round(1).isin({round(v / 10, 1) for v in real})).mean()
    assert on_table > 0.9 and keyed > 0.005 and on_table + keyed > 0.99


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory):
    """The recipe `exercise new` writes for priced(), in a home of its own."""
    home = tmp_path_factory.mktemp("home")
    priced().to_csv(home / "prices.csv", index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHIFTWORK_HOME", str(home))
        new_dataset(Authoring(exercise_id="prices", table=home / "prices.csv", target="price", groups=["shop"]))
        return load_recipe("prices")


def test_target_scale_moves_the_named_group_s_targets_only(recipe) -> None:
    w = world_for(recipe, [TargetScale(kind="target_scale", factor=2.0, where={"shop": "big"})])
    n = 1000
    rng = np.random.default_rng(1)
    shop = np.where(np.arange(n) % 2 == 0, "big", "small").astype(object)
    cols = {f.name: np.zeros(n) for f in recipe.numeric()} | {f.name: shop if f.name == "shop" else
                                                               np.full(n, "a", dtype=object)
                                                               for f in recipe.categorical()}
    labels = np.full(n, 100.0)
    sample = apply_shifts(recipe, w, cols, labels, {}, rng)
    got = sample.frame["price"].to_numpy(dtype=float)
    assert set(got[shop == "big"]) == {200.0} and set(got[shop == "small"]) == {100.0}
    assert set(sample.original_label[shop == "big"]) == {100.0} and set(sample.original_label[shop == "small"]) == {None}
    unchanged = apply_shifts(recipe, World(prior={}), dict(cols), labels, {}, np.random.default_rng(1))
    assert set(unchanged.frame["price"]) == {100.0}


def test_target_scale_is_refused_on_classes() -> None:
    credit = load_recipe("credit-default")
    with pytest.raises(ConfigError, match="numeric target"):
        world_for(credit, [TargetScale(kind="target_scale", factor=2.0)])


def test_the_scenarios_of_a_numeric_target_move_outcomes_for_everyone_and_per_group(tmp_path: Path) -> None:
    from grader.exercise import load_exercise
    from harness.authoring.exercise import write_exercise
    from harness.authoring.scenarios import propose

    frame = priced()
    schema = inspect_table(frame, "prices.csv", "price", groups=["shop"])
    proposals = propose(schema, frame)
    by = {p.name: p for p in proposals}
    assert list(by) == ["stable-messy", "unit-change", "covariate-shift", "new-category", "upstream-outage",
                        "target-shift", "group-drift", "hidden-group-drop", "operations"]
    assert by["target-shift"].phases[1]["shifts"] == [{"kind": "target_scale", "factor": 1.3}]
    assert by["group-drift"].phases[1]["shifts"][0]["where"] == {"shop": "big"}
    # the smallest group a window still holds enough of: "small" (13 %), not "tiny" (5 %)
    assert by["hidden-group-drop"].phases[1]["shifts"][0]["where"] == {"shop": "small"}
    assert "13% of the table" in by["hidden-group-drop"].said
    folder = tmp_path / "exercises" / "prices"
    write_exercise(folder, "prices", schema, frame, "Prices", "price", proposals)
    exercise = load_exercise("prices", root=tmp_path)
    assert (exercise.target, exercise.metric, exercise.slices) == ("regression", "mae", ["shop"])
    told = (folder / "brief.md").read_text()
    assert "a number (graded on its mean" in told and "error is clearly above" in told and "confidence" not in \
        told.split("## What your service must do")[0]
