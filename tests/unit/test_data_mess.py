"""Each mess injection changes what its truth says, and nothing else (property tests on single records)."""
from __future__ import annotations

import copy
import html
import re
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.data.engine import _wire_records, load_recipe
from harness.data.mess import INVALID_CODES, Messer, record_kind
from harness.data.recipe import MessSpec
from harness.data.sampler import World, sample_typed

KINDS = ["missing", "numeric_string", "category_variant", "timestamp_format", "html", "mojibake",
         "extra_field", "subject_blank", "out_of_range", "unparseable", "text_blank", "text_type"]
NUMBER = re.compile(r"\s*(?:\$|USD\s*)?\s*([-+]?[\d,]*\.?\d+)\s*(?:USD|days|d|tickets|°C|C|%|pct)?\s*")
TS_FORMATS = ["%m/%d/%Y %H:%M", "%d %b %Y %H:%M", "%d.%m.%Y %H:%M", "%B %d, %Y %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]


def parse_number(v: object) -> float:
    if isinstance(v, bool):
        raise ValueError("bool")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        m = NUMBER.fullmatch(v)
        if m:
            return float(m.group(1).replace(",", ""))
    raise ValueError(f"not a number: {v!r}")


def parse_time(v: object) -> datetime:
    if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
        return datetime.fromtimestamp(int(v), tz=timezone.utc)
    for fmt in TS_FORMATS:
        try:
            return datetime.strptime(str(v), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"not a timestamp: {v!r}")


def repair_text(v: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", "", v))
    if "Ã" in text or "â€" in text:
        text = text.encode("cp1252").decode("utf-8")
    return text


@pytest.fixture(scope="module", params=["support-triage", "tiny-sensors"])
def pool(request):
    recipe = load_recipe(request.param)
    rng = np.random.default_rng(5)
    sample = sample_typed(recipe, World(prior=dict(recipe.label_prior)), 200, rng, recipe.start, recipe.end)
    records, injections = _wire_records(recipe, sample, [f"x-{i}" for i in range(200)], "json", rng)
    assert not any(injections)
    return recipe, records


def _only(kind: str) -> MessSpec:
    return MessSpec(**{k: (1.0 if k == kind else 0.0) for k in KINDS}, duplicate=0.0, label_noise=0.0,
                    extra_fields={"utm_source": ["x"]}, unparseable_values=["lots", "#VALUE!"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), index=st.integers(0, 199), seed=st.integers(0, 2**32 - 1))
def test_injection_changes_only_what_it_says(pool, kind, index, seed):
    recipe, records = pool
    original = records[index]
    rec = copy.deepcopy(original)
    inj: list[list[tuple[str, str]]] = [[]]
    Messer(recipe, _only(kind), 1.0, "json").apply([rec], inj, np.random.default_rng(seed))
    fields = {f for f, _ in inj[0]}
    for key in set(original) | set(rec):
        if key not in fields:
            assert rec.get(key, "ABSENT") == original.get(key, "ABSENT"), f"{kind} changed {key} silently"
    for name, code in inj[0]:
        before, after = original.get(name), rec.get(name)
        if code == "missing":
            assert after is None or (isinstance(after, str) and not after.strip())
        elif code == "numeric_string":
            assert isinstance(after, str) and parse_number(after) == pytest.approx(before)
        elif code == "category_variant":
            assert after != before and after.strip().lower() == before
        elif code == "timestamp_format":
            assert after != before
            with pytest.raises((ValueError, TypeError)):
                datetime.fromisoformat(after)  # not ISO: a service has to coerce it
            assert abs((parse_time(after) - parse_time(before)).total_seconds()) < 60
        elif code in ("html", "mojibake"):
            assert after != before and repair_text(after) == before
        elif code == "extra_field":
            assert name not in recipe.field_names and name in rec
        elif code == "out_of_range":
            lo, hi = recipe.field(name).valid
            assert not lo <= parse_number(after) <= hi
        elif code == "unparseable":
            with pytest.raises(ValueError):
                parse_number(after)
        elif code == "wrong_type":
            assert not isinstance(after, str)
        else:
            pytest.fail(f"unknown code {code}")
    kind_now = record_kind(inj[0], recipe.text.required_any)
    if {c for _, c in inj[0]} & INVALID_CODES or kind == "text_blank" and inj[0]:
        assert kind_now == "invalid"
    elif inj[0]:
        assert kind_now == "recoverable"
    else:
        assert kind_now == "clean"


def test_mess_multiplier_zero_leaves_records_alone(pool):
    recipe, records = pool
    recs = copy.deepcopy(records)
    inj = [[] for _ in recs]
    Messer(recipe, recipe.mess, 0.0, "json").apply(recs, inj, np.random.default_rng(1))
    assert recs == records and not any(inj)


def test_csv_mode_has_no_extra_keys_or_non_string_texts(pool):
    recipe, records = pool
    recs = copy.deepcopy(records)
    inj = [[] for _ in recs]
    Messer(recipe, _only("extra_field"), 1.0, "csv").apply(recs, inj, np.random.default_rng(1))
    Messer(recipe, _only("text_type"), 1.0, "csv").apply(recs, inj, np.random.default_rng(2))
    assert not any(inj)
