"""Free text with real signal: per-label phrases, per-category vocabulary, per-language framing.

The label carries most of the signal; a `confusion` share of texts borrows another label's
phrasing so a plain bag-of-words model tops out well below 100%. A category may have its
own label phrases (`specific_share`), which is what makes a held-back category's texts
hard for a model that never saw its words.
"""
from __future__ import annotations

import logging

import numpy as np

from harness.data.recipe import CategoryVocab, Recipe, TextSpec, TextVocab

log = logging.getLogger(__name__)

_N_DRAWS = 14  # uniform draws per record; each choice below uses its own column


def _pick(options: list[str], u: float) -> str:
    return options[int(u * len(options))] if options else ""


class _Slots(dict):
    """format_map source: unknown slots stay as they were rather than raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(template: str, slots: _Slots) -> str:
    return template.format_map(slots) if "{" in template else template


def generate_text(
    recipe: Recipe,
    labels: np.ndarray,
    categories: np.ndarray,
    languages: np.ndarray | None,
    rng: np.random.Generator,
) -> dict[str, list[str]]:
    """Return {"subject": [...], "body": [...]} for each record (label, category, language)."""
    spec: TextSpec = recipe.text  # type: ignore[assignment]
    n = len(labels)
    vocab: dict[str, CategoryVocab] = {**spec.categories, **recipe.heldout_categories}
    others = {lab: spec.confusable.get(lab) or [c for c in recipe.classes if c != lab] for lab in recipe.classes}
    # plain Python lists: indexing numpy arrays one scalar at a time is the slow part here
    u = rng.random((n, _N_DRAWS)).tolist()
    orders = rng.integers(10_000, 99_999, size=n).tolist()
    amounts = rng.integers(5, 900, size=n).tolist()
    lo, hi = spec.sentences
    k_sent = rng.integers(lo, hi + 1, size=n).tolist()
    labels_l = [str(x) for x in labels]
    cats_l = [str(x) for x in categories]
    langs_l = [str(x) for x in languages] if languages is not None else None
    subjects: list[str] = []
    bodies: list[str] = []
    for i in range(n):
        row = u[i]
        label = labels_l[i]
        cat = vocab.get(cats_l[i])
        lang = spec.languages.get(langs_l[i]) if langs_l is not None else None
        # whose phrasing: the true label, or (confusion) a neighbouring label's
        phr_body = _pick(others[label], row[1]) if row[0] < spec.confusion else label
        phr_subj = phr_body if row[2] < 0.5 else label
        src_body = _source(spec, cat, lang, phr_body, row[3], row[4])
        src_subj = _source(spec, cat, lang, phr_subj, row[3], row[4])
        slots = _Slots(
            item=_pick(cat.item, row[5]) if cat else "it",
            order=f"#{orders[i]}",
            amount=f"{amounts[i]}",
        )
        subjects.append(_fill(_pick(src_subj.subject or spec.labels[phr_subj].subject, row[6]), slots))
        parts: list[str] = []
        greet = _pick(lang.greeting, row[7]) if lang else ""
        if greet:
            parts.append(greet)
        body_opts = src_body.body or spec.labels[phr_body].body
        generic = body_opts if len(body_opts) > 2 else spec.labels[phr_body].body
        first = int(row[8] * len(body_opts))
        parts.append(_fill(body_opts[first], slots))
        if k_sent[i] > 1:
            # a second sentence from the generic pool, never a repeat of the first
            second = generic[(int(row[8] * len(generic)) + 1 + int(row[3] * 5)) % len(generic)]
            if second != body_opts[first]:
                parts.append(_fill(second, slots))
        if cat and cat.detail and row[9] < 0.6:
            parts.append(_fill(_pick(cat.detail, row[10]), slots))
        if spec.fillers and row[11] < 0.5:
            parts.append(_fill(_pick(spec.fillers, row[12]), slots))
        close = _pick(lang.closing, row[13]) if lang else ""
        if close:
            parts.append(close)
        bodies.append(" ".join(parts))
    return {"subject": subjects, "body": bodies}


def _source(spec: TextSpec, cat: CategoryVocab | None, lang, label: str, u_cat: float, u_lang: float) -> TextVocab:
    if cat is not None and label in cat.labels and u_cat < cat.specific_share:
        return cat.labels[label]
    if lang is not None and label in lang.labels and u_lang < lang.native_share:
        return lang.labels[label]
    return spec.labels[label]
