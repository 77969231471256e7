"""One truth per injection, and dictionaries that say what is scored (issue 19, items 3 and 6).

- Every injection code the engine writes, in every exercise, maps to exactly one record kind
  (harness.data.mess.CODE_KINDS); a record with several injections takes the strongest of
  their kinds (KIND_PRECEDENCE), except that a record whose required fields are all missing
  is invalid. Walked over each exercise's training data and all of its held-back and public
  traffic, as `shiftwork data --heldout` generates them.
- A number inside its valid range but beyond training is what the kind's dictionary says
  (DataKind.beyond_training): load-forecast's readings sent in another unit are unfamiliar.
- Every date and timestamp spelling the engine writes (the kind's own list, DataKind.spellings)
  is in the dictionary with its order of day and month, and it is the only way those fields
  are written: each value parses with a listed spelling, back to the record's true time.
- The dictionary's examples agree with each other, with the brief and with the data.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timezone

import pandas as pd
import pytest

from grader.exercise import load_exercise
from harness.data.dictionary import BEYOND_TRAINING, DATE_EXAMPLE, SEVERAL_PROBLEMS, spelling_pattern
from harness.data.engine import generate_scenario, generate_training, load_recipe
from harness.data.kinds import Spelling, data_dictionary, kind_for
from harness.data.mess import CODE_KINDS, KIND_PRECEDENCE, VARIANTS, numeric_string

EXERCISES = ["support-triage", "credit-default", "load-forecast"]
SEED = 7
_DAYS_PER_YEAR = 365.2425


class Generated:
    def __init__(self, exercise: str) -> None:
        self.exercise = load_exercise(exercise)
        self.recipe = load_recipe(self.exercise.dataset)
        self.kind = kind_for(self.recipe)
        self.training = generate_training(self.recipe, SEED)
        scenarios = self.exercise.held_back_scenarios() + [self.exercise.public()]
        self.traffic = [generate_scenario(self.recipe, s, SEED) for s in scenarios]
        self.dictionary = data_dictionary(self.recipe)
        self.brief = (self.exercise.root / "brief.md").read_text()

    def truths(self):
        """(wire record or None, its truth) over training and every phase of traffic."""
        for t in self.training.truths:
            yield None, t
        for st in self.traffic:
            for p in st.phases:
                yield from zip(p.records, p.truths)


@pytest.fixture(scope="module", params=EXERCISES)
def gen(request) -> Generated:
    return Generated(request.param)


def _input_injections(t) -> list[tuple[str, str]]:
    # a wrong training label says nothing about the inputs: it never decides what a record is
    return [(i.field, i.code) for i in t.injections if i.code != "label_noise"]


# --- item 3: one truth per injection -------------------------------------------------------------

def test_every_injection_code_maps_to_one_record_kind(gen: Generated) -> None:
    required = gen.kind.required(gen.recipe)
    single: dict[str, set[str]] = defaultdict(set)
    codes_seen: set[str] = set()
    for _, t in gen.truths():
        inj = _input_injections(t)
        codes_seen |= {c for _, c in inj} | {i.code for i in t.injections}
        unknown = {c for _, c in inj} - set(CODE_KINDS)
        assert not unknown, f"{gen.exercise.id}: codes without a record kind: {unknown}"
        if len(inj) == 1:
            single[inj[0][1]].add(t.kind)
        missing = {f for f, c in inj if c == "missing"}
        if required and all(f in missing for f in required):
            assert t.kind == "invalid", (gen.exercise.id, t)  # nothing left to score from
        else:
            strongest = next((k for k in KIND_PRECEDENCE if k in {CODE_KINDS[c] for _, c in inj}), "clean")
            assert t.kind == strongest, (gen.exercise.id, t.id, inj, t.kind)
    for code, kinds in single.items():
        assert kinds == {CODE_KINDS[code]}, f"{gen.exercise.id}: {code} alone gives {kinds}"
    # the walk saw the exercise's mess and shifts (a regression here means the walk went blind)
    assert {"missing", "numeric_string", "out_of_range", "unparseable"} <= set(single)
    assert {"label_noise"} <= codes_seen


def test_a_reading_beyond_training_is_what_the_kind_says(gen: Generated) -> None:
    clean = gen.training.clean
    span = {f.name: (float(clean[f.name].min()), float(clean[f.name].max())) for f in gen.recipe.numeric()}
    marked = unmarked_beyond = 0
    for rec, t in gen.truths():
        if rec is None:
            assert not any(i.code == "beyond_range" for i in t.injections)  # training is its own range
            continue
        flagged = {i.field for i in t.injections if i.code == "beyond_range"}
        for f in gen.recipe.numeric():
            v = rec.get(f.name)
            if f.name in flagged:
                # a record marked beyond training is beyond what the candidate's train.csv shows
                lo, hi = span[f.name]
                assert isinstance(v, (int, float)) and not lo <= v <= hi, (t.id, f.name, v)
                assert f.valid[0] <= v <= f.valid[1]
                marked += 1
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and f.valid[0] <= v <= f.valid[1] \
                    and not span[f.name][0] <= v <= span[f.name][1]:
                unmarked_beyond += 1
    if gen.kind.beyond_training == "unfamiliar":
        assert marked > 100  # the heat wave, the meter units
        from harness.data.series import source

        # unmarked readings lie inside what training could hold (train.csv is a sample of it)
        pool = source(gen.recipe).train_range
        for rec, t in gen.truths():
            if rec is None:
                continue
            flagged = {i.field for i in t.injections if i.code == "beyond_range"}
            for f in gen.recipe.numeric():
                v = rec.get(f.name)
                if f.name not in flagged and isinstance(v, (int, float)) and f.valid[0] <= v <= f.valid[1]:
                    lo, hi = pool[f.source]
                    assert lo <= v <= hi, (t.id, f.name, v)
    else:
        assert marked == 0
        assert unmarked_beyond > 0  # (the unit changes of these exercises: numbers, not records, move)
    assert BEYOND_TRAINING[gen.kind.beyond_training] in gen.dictionary
    # the precedence the truth applies is the one the dictionary states
    assert SEVERAL_PROBLEMS in gen.dictionary and ", then ".join(KIND_PRECEDENCE[:3]) in SEVERAL_PROBLEMS


def test_load_sent_in_gigawatts_is_never_clean() -> None:
    """The reported bug: loads of 2.2-2.7 (GW where MW is expected, training never below 228 MW)
    were truth=clean while other records of the same injection were invalid or recoverable."""
    gen = Generated("load-forecast")
    from harness.data.series import source

    pool = source(gen.recipe).train_range
    lags = ("load_yesterday_mw", "load_last_week_mw")
    lo = min(float(gen.training.clean[f].min()) for f in lags)
    tiny: set[str] = set()
    for rec, t in gen.truths():
        if rec is None:
            continue
        for name in lags:
            v = rec.get(name)
            if isinstance(v, (int, float)) and 0 <= v < lo / 10:
                tiny.add(t.kind)
            # a reading moved by a unit change is clean only while it stays inside what training holds
            if (name, "unit_change") in _input_injections(t) and t.kind == "clean":
                low, high = pool[gen.recipe.field(name).source]
                assert isinstance(v, (int, float)) and low <= v <= high, (t.id, name, v)
    assert tiny and "clean" not in tiny
    assert "the demand one day earlier" in gen.dictionary and "unfamiliar" in gen.dictionary


def test_an_unknown_injection_code_is_refused() -> None:
    from harness.data.mess import record_kind

    with pytest.raises(ValueError, match="no record kind"):
        record_kind([("x", "made_up")], [])


# --- item 6 (b): every spelling of a date or timestamp is documented, with its order ---------

def _order(fmt: str) -> str:
    """Which part comes first, read from the format the way a person reads the example."""
    pos = {"day": fmt.find("%d"), "month": max(fmt.find("%m"), fmt.find("%b"), fmt.find("%B")), "year": fmt.find("%Y")}
    return min((p for p in pos if pos[p] >= 0), key=lambda p: pos[p]) + " first"


def _parse(sp: Spelling, value: object) -> datetime | None:
    """The instant (UTC; a date at midnight) that `value` spells in `sp`, or None."""
    text = str(value).strip()
    if sp.format == "epoch":
        return datetime.fromtimestamp(int(text), timezone.utc) if text.isdigit() else None
    try:
        parsed = datetime.strptime(text, sp.format)
    except ValueError:
        return None
    return parsed.replace(tzinfo=sp.tz).astimezone(timezone.utc)


def test_every_spelling_the_engine_writes_is_in_the_dictionary_with_its_order(gen: Generated) -> None:
    spellings = gen.kind.spellings(gen.recipe)
    fields = {sp.field for sp in spellings}
    assert gen.recipe.time_field in fields and {f.name for f in gen.recipe.dates()} <= fields
    rows = [ln for ln in gen.dictionary.splitlines() if ln.startswith("| `")]
    for sp in spellings:
        pattern = spelling_pattern(sp.format)
        row = [ln for ln in rows if ln.startswith(f"| `{sp.field}` |") and pattern in ln]
        assert len(row) == 1, (sp, "not listed in the dictionary")
        if sp.format != "epoch":
            assert _order(sp.format) in row[0], (sp, row[0])
        if gen.recipe.field(sp.field).kind == "timestamp":
            assert ("UTC" in row[0]) if sp.tz is timezone.utc else ("local time" in row[0]), row[0]
    # the month-first dashes of a date of birth (`02-26-1962`) are documented as month first
    if gen.recipe.dates():
        assert any("`MM-DD-YYYY`" in ln and "month first" in ln for ln in rows)


def _true_instants(gen: Generated) -> dict[str, pd.Series]:
    clean = gen.training.clean
    return {f: clean[f] for f in [gen.recipe.time_field] + [d.name for d in gen.recipe.dates()]}


def test_the_listed_spellings_are_the_only_ones_and_give_back_the_true_value(gen: Generated) -> None:
    spellings = gen.kind.spellings(gen.recipe)
    by_field: dict[str, list[Spelling]] = defaultdict(list)
    for sp in spellings:
        by_field[sp.field].append(sp)
    used: set[Spelling] = set()
    truth = _true_instants(gen)
    frame = gen.training.frame
    for name, sps in by_field.items():
        dated = gen.recipe.field(name).kind == "date"
        hit = {t.id for t in gen.training.truths if any(i.field == name and i.code == "out_of_range" for i in t.injections)}
        for i, value in enumerate(frame[name].tolist()):
            if value in (None, "") or (isinstance(value, str) and not value.strip()):
                continue
            readings = {sp: _parse(sp, value) for sp in sps}
            readings = {sp: r for sp, r in readings.items() if r is not None}
            assert readings, f"{gen.exercise.id} train.csv {name} = {value!r}: no listed spelling reads it"
            used |= set(readings)
            if frame.iloc[i][gen.recipe.id_field] in hit:
                continue  # an impossible date of birth, written in ISO on purpose
            true = pd.Timestamp(truth[name].iloc[i])
            want = true.date() if dated else true.tz_convert("UTC").to_pydatetime()
            got = [r.date() if dated else r for r in readings.values()]
            # a spelling without seconds (or minutes) keeps what it shows
            ok = [g == want or (not dated and abs((g - want).total_seconds()) < 60 and g.second == 0) for g in got]
            assert any(ok), f"{gen.exercise.id} {name} = {value!r} reads as {got}, truly {want}"
        for st in gen.traffic:
            for p in st.phases:
                for rec in p.records:
                    value = rec.get(name)
                    if value is None or (isinstance(value, str) and not value.strip()):
                        continue
                    readings = [sp for sp in sps if _parse(sp, value) is not None]
                    assert readings, f"{gen.exercise.id} traffic {name} = {value!r}: no listed spelling reads it"
                    used |= set(readings)
    # and no spelling is listed that never occurs
    assert set(spellings) == used, set(spellings) - used


# --- item 6 (c): the dictionary's examples agree with the data they describe -----------------

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_timestamp_and_date_examples_are_one_instant_of_the_data(gen: Generated) -> None:
    recipe = gen.recipe
    when = gen.kind.example_time(recipe)
    assert recipe.start <= when < recipe.end
    if recipe.series is not None:  # every interval_start is the start of an interval
        assert int(when.timestamp()) % (recipe.series.interval_minutes * 60) == 0
    isos = set(ISO.findall(gen.dictionary))
    assert isos == {when.strftime("%Y-%m-%dT%H:%M:%SZ")}, isos
    for sp in gen.kind.spellings(recipe):
        row = next(ln for ln in gen.dictionary.splitlines()
                   if ln.startswith(f"| `{sp.field}` |") and spelling_pattern(sp.format) in ln)
        example = row.split("|")[3].strip().strip("`")
        got = _parse(sp, example)
        if recipe.field(sp.field).kind == "date":
            assert got is not None and got.date() == DATE_EXAMPLE, (sp, example)
        else:
            assert got is not None and abs((got - when).total_seconds()) < 60, (sp, example, when)
    for f in recipe.dates():  # the example date of birth is a valid age on the example day
        age = (when.date() - DATE_EXAMPLE).days / _DAYS_PER_YEAR
        assert f.valid_age[0] <= age <= f.valid_age[1]
    # "`14/03/2025 19:30 AEST`, which is 09:30 UTC": both halves say the same instant
    for local, utc in re.findall(r"`([^`]+)`, which is (\d\d:\d\d) UTC", gen.dictionary):
        sp = next(sp for sp in gen.kind.spellings(recipe) if _parse(sp, local) is not None)
        assert _parse(sp, local).strftime("%H:%M") == utc == when.strftime("%H:%M")


def _brief_and_dictionary_times(gen: Generated) -> list[tuple[str, datetime]]:
    # line by line: a stray backtick (a code block) must not pair up the rest of the text the wrong way
    texts = [t for ln in (gen.brief + "\n" + gen.dictionary).splitlines() for t in re.findall(r"`\"?([^`\"]+)\"?`", ln)]
    out = []
    for text in texts:
        for sp in gen.kind.spellings(gen.recipe):
            if sp.format == "epoch" or gen.recipe.field(sp.field).kind != "timestamp":
                continue
            got = _parse(sp, text)
            if got is not None:
                out.append((text, got))
    return out


def test_the_brief_quotes_the_dictionarys_instant(gen: Generated) -> None:
    when = gen.kind.example_time(gen.recipe)
    found = _brief_and_dictionary_times(gen)
    assert found
    for text, got in found:
        assert abs((got - when).total_seconds()) < 60, (text, got, when)


def _numeric_example(recipe, text: str) -> bool:
    digits = re.sub(r"[^0-9.,-]", "", text)
    if not digits:
        return False
    candidates = set()
    for plain in (digits.replace(",", ""), digits.replace(".", "").replace(",", ".")):
        try:
            candidates.add(float(plain))
        except ValueError:
            pass
    for f in recipe.numeric():
        for v in candidates:
            if f.dtype == "int" and not float(v).is_integer():
                continue
            n = len(f.string_formats)
            if f.valid[0] <= v <= f.valid[1] and any(
                    numeric_string(f, v, (k + 0.5) / n) == text for k in range(n)):
                return True
            annual = v / f.period_factor
            if f.period_formats and f.valid[0] <= annual <= f.valid[1] and any(
                    p.format(v=int(v)) == text for p in f.period_formats):
                return True
    return False


def _category_example(recipe, text: str) -> bool:
    return any(variant(c) == text != c for f in recipe.categorical() for c in f.categories for variant in VARIANTS)


def test_quoted_repair_examples_are_values_the_data_sends(gen: Generated) -> None:
    line = next(ln for ln in gen.dictionary.splitlines() if ln.startswith("- **recoverable**"))
    quoted = re.findall(r'`"([^"`]*)"`', line)
    assert len(quoted) >= 4
    for text in quoted:
        assert _numeric_example(gen.recipe, text) or _category_example(gen.recipe, text), text
    # the brief's repair examples too
    row = next(ln for ln in gen.brief.splitlines() if ln.strip().startswith("| `coerced`"))
    for text in re.findall(r'`"([^"`]*)"`', row):
        if any(_parse(sp, text) for sp in gen.kind.spellings(gen.recipe)):
            continue  # a date or timestamp (checked against the example instant above)
        assert _numeric_example(gen.recipe, text) or _category_example(gen.recipe, text), text


# --- item 6 (a): performance baselines from held-out data ----------------------------------

@pytest.mark.parametrize("exercise", EXERCISES)
def test_briefs_measure_the_performance_baseline_out_of_sample(exercise: str) -> None:
    brief = " ".join((load_exercise(exercise).root / "brief.md").read_text().split())
    assert "did in training" not in brief and "for that group in training" not in brief
    perf = brief[brief.index("`performance`"):brief.index("An alarm that is always on")]
    assert "held-out" in perf or "ordinary traffic" in perf, perf
    look = brief[brief.index("## What we look for"):]
    assert "held-out" in look or "not on rows that share days with the training rows" in look
