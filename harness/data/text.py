"""Free text with real signal: per-label phrases, per-category vocabulary, per-language framing.

The label carries most of the signal; a `confusion` share of texts borrows another label's
phrasing so a plain bag-of-words model tops out well below 100%. A category may have its
own label phrases (`specific_share`), which is what makes a held-back category's texts
hard for a model that never saw its words.
"""
from __future__ import annotations

import logging

import numpy as np

from harness.data.recipe import CategoryVocab, LanguageVocab, Recipe, TextSpec, TextVocab

log = logging.getLogger(__name__)

_N_DRAWS = 14  # uniform draws per record; each choice below uses its own column


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
    # plain dicts and locals: this loop is the engine's hot path
    confusion = spec.confusion
    fillers = spec.fillers
    g_subj = {lab: v.subject for lab, v in spec.labels.items()}
    g_body = {lab: v.body for lab, v in spec.labels.items()}
    no_lang = LanguageVocab()
    subjects: list[str] = []
    bodies: list[str] = []
    for i in range(n):
        row = u[i]
        label = labels_l[i]
        cat = vocab.get(cats_l[i])
        lang = spec.languages.get(langs_l[i], no_lang) if langs_l is not None else no_lang
        # whose phrasing: the true label, or (confusion) a neighbouring label's
        if row[0] < confusion:
            opts = others[label]
            phr_body = opts[int(row[1] * len(opts))]
        else:
            phr_body = label
        phr_subj = phr_body if row[2] < 0.5 else label
        src_body = _source(cat, lang, phr_body, row[3], row[4])
        src_subj = src_body if phr_subj == phr_body else _source(cat, lang, phr_subj, row[3], row[4])
        slots = _Slots(item=cat.item[int(row[5] * len(cat.item))] if cat else "it",
                       order=f"#{orders[i]}", amount=str(amounts[i]))
        opts = (src_subj.subject if src_subj is not None and src_subj.subject else g_subj[phr_subj])
        subjects.append(_fill(opts[int(row[6] * len(opts))], slots) if opts else "")
        parts: list[str] = []
        greet = lang.greeting[int(row[7] * len(lang.greeting))]
        if greet:
            parts.append(greet)
        generic_pool = g_body[phr_body]
        body_opts = src_body.body if src_body is not None and src_body.body else generic_pool
        generic = body_opts if len(body_opts) > 2 else generic_pool
        first = body_opts[int(row[8] * len(body_opts))]
        parts.append(_fill(first, slots))
        if k_sent[i] > 1:
            # a second sentence from the generic pool, never a repeat of the first
            second = generic[(int(row[8] * len(generic)) + 1 + int(row[3] * 5)) % len(generic)]
            if second != first:
                parts.append(_fill(second, slots))
        if cat is not None and cat.detail and row[9] < 0.6:
            parts.append(_fill(cat.detail[int(row[10] * len(cat.detail))], slots))
        if fillers and row[11] < 0.5:
            parts.append(_fill(fillers[int(row[12] * len(fillers))], slots))
        close = lang.closing[int(row[13] * len(lang.closing))]
        if close:
            parts.append(close)
        bodies.append(" ".join(parts))
    return {"subject": subjects, "body": bodies}


def _source(cat: CategoryVocab | None, lang: LanguageVocab, label: str, u_cat: float,
            u_lang: float) -> TextVocab | None:
    """The category's own phrases for this label, else the language's, else None (generic)."""
    if cat is not None and u_cat < cat.specific_share and label in cat.labels:
        return cat.labels[label]
    if u_lang < lang.native_share and label in lang.labels:
        return lang.labels[label]
    return None
