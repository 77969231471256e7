"""load-forecast: the real series keeps its structure; the mess and each reading shift do what they say."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from grader.errors import ConfigError
from grader.exercise import load_exercise
from grader.scenario import Covariate, Phase, Scenario
from harness.baseline import Baselines
from harness.data.engine import generate_scenario, generate_training, load_recipe, reference_clean, sample_clean
from harness.data.kinds import kind_for
from harness.data.series import source

N = 1500


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("load-forecast")


@pytest.fixture(scope="module")
def train(recipe):
    return generate_training(recipe, 7)


@pytest.fixture(scope="module")
def scenarios():
    return {s.name: s for s in load_exercise("load-forecast").held_back_scenarios()}


def _phase(recipe, scenarios, name: str, phase: str, seed: int = 11) -> pd.DataFrame:
    return sample_clean(recipe, scenarios[name], phase, N, seed)


def _naive_mae(frame: pd.DataFrame) -> float:
    return float((frame["load_yesterday_mw"] - frame["load_mw"]).abs().mean())


def test_same_seed_same_bytes_and_another_seed_other_bytes(recipe, train) -> None:
    again = generate_training(recipe, 7).csv_text()
    assert hashlib.sha256(again.encode()).digest() == hashlib.sha256(train.csv_text().encode()).digest()
    assert generate_training(recipe, 8).csv_text() != again


def test_held_back_days_never_reach_training(recipe, train) -> None:
    src = source(recipe)
    pools = {k: set(v.tolist()) for k, v in src.pools.items()}
    assert not pools["train"] & pools["heldout"] and not pools["train"] & pools["extreme"]
    assert len(pools["heldout"]) > 0.25 * (len(pools["train"]) + len(pools["heldout"]))
    # the heat-wave days lie beyond anything training holds
    assert train.clean["temperature_c"].max() <= src.train_max_temperature
    hottest = max(float(t[np.concatenate([np.arange(d * 48, d * 48 + 48) for d in src.pools["extreme"]])].max())
                  for t in src.temperature.values())
    assert hottest > src.train_max_temperature + 3


def test_lags_are_the_same_series_a_day_and_a_week_earlier(recipe) -> None:
    ref = reference_clean(recipe, 3, n=4000, pool="heldout")
    mean = ref["load_mw"].mean()
    # the seasonal-naive forecast is good (a real daily rhythm) but far from perfect (weather, weekdays)
    assert 0.03 * mean < _naive_mae(ref) < 0.12 * mean
    assert np.corrcoef(ref["load_yesterday_mw"], ref["load_mw"])[0, 1] > 0.9
    # sites differ in size by their shares; every site has every hour
    by_site = ref.groupby("site")["load_mw"].mean()
    assert by_site["metro"] > 2 * by_site["coast"] > 2 * by_site["valley"]


def test_training_mess_and_glitched_actuals(train) -> None:
    codes = pd.Series([i.code for t in train.truths for i in t.injections]).value_counts()
    for code in ("numeric_string", "timestamp_format", "missing", "out_of_range", "label_noise"):
        assert codes.get(code, 0) > 0, code
    glitched = [t for t in train.truths if any(i.code == "label_noise" for i in t.injections)]
    assert 0.005 < len(glitched) / len(train.truths) < 0.02
    wire = pd.to_numeric(train.frame.set_index("id").loc[[t.id for t in glitched], "load_mw"])
    true = np.array([t.label for t in glitched], dtype=float)
    assert np.all((wire.to_numpy() == 0) | np.isclose(wire.to_numpy(), true * 10, rtol=1e-3))
    zoned = train.frame["interval_start"].astype(str).str.endswith("AEST")
    assert zoned.sum() > 20


def test_stuck_sensor_repeats_one_reading_while_demand_moves(recipe, scenarios) -> None:
    stable = _phase(recipe, scenarios, "stuck-sensor", "stable")
    stuck = _phase(recipe, scenarios, "stuck-sensor", "stuck")
    assert stable["temperature_c"].nunique() > 100
    assert stuck["temperature_c"].nunique() == 1
    assert stuck["load_mw"].std() > 0.5 * stable["load_mw"].std()


def test_sensor_offset_moves_one_site_only_and_not_the_demand(recipe, scenarios) -> None:
    stable = _phase(recipe, scenarios, "sensor-offset", "stable")
    off = _phase(recipe, scenarios, "sensor-offset", "offset")
    t0 = stable.groupby("site")["temperature_c"].mean()
    t1 = off.groupby("site")["temperature_c"].mean()
    assert 5.5 < t1["metro"] - t0["metro"] < 8.5
    assert abs(t1["coast"] - t0["coast"]) < 1.5 and abs(t1["valley"] - t0["valley"]) < 1.5
    assert abs(_naive_mae(off) - _naive_mae(stable)) < 0.2 * _naive_mae(stable)


def test_clock_shift_puts_the_lags_on_another_half_hour(recipe, scenarios) -> None:
    stable = _phase(recipe, scenarios, "clock-shift", "stable")
    shifted = _phase(recipe, scenarios, "clock-shift", "shifted")
    # inputs look as usual, but the seasonal-naive forecast now misses by much more
    assert abs(shifted["load_yesterday_mw"].mean() / stable["load_yesterday_mw"].mean() - 1) < 0.1
    assert _naive_mae(shifted) > 1.1 * _naive_mae(stable)  # measured 1.15; the plain model: 1.47


def test_tariff_moves_evening_demand_only(recipe, scenarios) -> None:
    def ratio(frame: pd.DataFrame, evening: bool) -> float:
        local = (frame["interval_start"].dt.hour + 10) % 24
        mask = ((local >= 17) & (local < 21)) == evening
        return float((frame["load_mw"][mask] / frame["load_yesterday_mw"][mask]).median())

    stable = _phase(recipe, scenarios, "tariff-change", "stable")
    tariff = _phase(recipe, scenarios, "tariff-change", "tariff")
    assert ratio(tariff, True) == pytest.approx(0.67 * ratio(stable, True), rel=0.05)
    assert ratio(tariff, False) == pytest.approx(ratio(stable, False), rel=0.03)


def test_units_and_heat_wave_in_the_traffic(recipe, scenarios) -> None:
    gw = _phase(recipe, scenarios, "meter-units", "gigawatts")
    assert gw["load_yesterday_mw"].median() < 5 and gw["load_last_week_mw"].median() < 5
    traffic = generate_scenario(recipe, scenarios["heat-wave"], 7)
    stable, heat = traffic.phases
    # a stable phase is unfamiliar only where a held-back day's reading lies beyond training (rare)
    odd = [t for t in stable.truths if t.kind == "unfamiliar"]
    assert len(odd) < 0.01 * len(stable.truths)
    assert all(any(i.code == "beyond_range" for i in t.injections) for t in odd)
    beyond = [t for t in heat.truths if any(i.code == "beyond_range" for i in t.injections)]
    assert len(beyond) > 50
    assert all(t.kind in ("unfamiliar", "invalid") for t in beyond)
    assert heat.truth.drift_fields == ["temperature_c"]
    # demand sent in GW lies far below anything in training: unfamiliar (the brief's fallback), never clean
    units = generate_scenario(recipe, scenarios["meter-units"], 7).phases[1]
    assert {t.kind for t in units.truths} <= {"unfamiliar", "invalid"}
    assert sum(t.kind == "unfamiliar" for t in units.truths) > 0.9 * len(units.truths)


def test_a_shift_a_series_cannot_draw_fails_clearly(recipe) -> None:
    bad = Scenario(name="bad", phases=[Phase(name="p", records=10, shifts=[
        Covariate(kind="covariate", field="temperature_c", offset=3.0)])])
    with pytest.raises(ConfigError, match="sensor_offset"):
        generate_scenario(recipe, bad, 7)


def test_plain_baseline_beats_seasonal_naive_and_predicts_numbers(recipe, train) -> None:
    base = Baselines.fit(train.frame, recipe.label, kind_for(recipe).baseline_spec(recipe))
    ref = reference_clean(recipe, 5, n=3000, pool="heldout")
    pred = np.array(base.predict(ref.drop(columns=[recipe.label]).to_dict("records")), dtype=float)
    plain = float(np.abs(pred - ref["load_mw"]).mean())
    assert plain < 0.8 * _naive_mae(ref)
    traffic = generate_scenario(recipe, load_exercise("load-forecast").held_back_scenarios()[0], 7)
    preds = base.predictions(traffic)
    assert set(preds) == {"seasonal_naive", "plain_model"}
    some = next(iter(preds["plain_model"].values()))
    assert isinstance(some, float)


def test_dictionary_says_what_a_record_can_be_and_keeps_the_held_back_shifts_secret(recipe) -> None:
    text = kind_for(recipe).dictionary(recipe)
    for word in ("load_mw", "fallback", "invalid", "coerced", "AEST", "mae", "GPL-3"):
        assert word in text
    for secret in ("stuck", "offset", "heat wave", "tariff", "clock", "GW", "outage"):
        assert secret not in text.lower().replace("utc+10", ""), secret


def test_a_reading_shift_on_a_kind_that_cannot_draw_it_fails_before_any_traffic() -> None:
    from grader.scenario import StuckValue

    tabular = load_recipe("credit-default")
    bad = Scenario(name="bad", phases=[Phase(name="p", records=10, shifts=[
        StuckValue(kind="stuck_value", field="annual_income")])])
    with pytest.raises(ConfigError, match="stuck_value is not drawn by the tabular kind"):
        generate_scenario(tabular, bad, 7)
