"""The interview kit: 6-10 questions grounded in this run's evidence, from the exercise's templates.

Templates are TOML an exercise author edits (exercises/<id>/interview.toml; the generic set
beside this module when an exercise has none, or to top a short kit up to six). Each names the
evidence it needs (`when`), a question whose {placeholders} are filled from the run
(grader.report.kit_evidence), rubric anchors 1-4 and a constraint-change follow-up. A template
whose condition does not hold, or whose placeholders this run cannot fill, is left out.

A kit is a pure function of the run: the same run gives the same bytes. Nothing held back is
quoted: a fact or a question that would carry a scenario name, a phase name or the seed is
left out (`held_back_terms`); names the public self-check also uses are public.
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Callable, Literal, get_args

from pydantic import BaseModel, Field

from grader.checks.base import CheckContext, CheckResult
from grader.errors import ConfigError
from grader.exercise import Exercise
from grader.report.kit_evidence import run_facts
from grader.report.kit_quote import CONSTANTS
from grader.report.kit_templates import (CONSTRAINT_TITLES, PLACEHOLDER, Constraint, Probe, Template,
                                         TemplateFile, load_templates)

log = logging.getLogger(__name__)

TEMPLATE_FILE = "interview.toml"  # in the exercise folder
DEFAULT_TEMPLATES = Path(__file__).resolve().parent / "interview_default.toml"
MIN_QUESTIONS, MAX_QUESTIONS = 6, 10
SHORTEST_TERM = 3  # a held-back name shorter than this is not a word anyone could recognise


class Anchor(BaseModel):
    score: int = Field(ge=1, le=4)
    label: Literal["weak", "fair", "good", "strong"]
    text: str  # what an answer at this score contains


class FollowUp(BaseModel):
    constraint: Constraint
    title: str  # the constraint in words
    ask: str
    strong: str  # what a strong adaptation says


class Quote(BaseModel):
    name: str  # the placeholder
    value: str  # what this run put there


class KitQuestion(BaseModel):
    id: str
    title: str
    probes: list[Probe]
    based_on: str  # the evidence it needs: "always", "<check> passed|failed|measured", "status <s>"
    text: str
    evidence: list[Quote]  # the run's facts the question quotes, in the order it quotes them
    anchors: list[Anchor]
    follow_up: FollowUp


class InterviewKit(BaseModel):
    kit_version: int = 1
    templates: list[str]  # where the questions came from: "exercises/<id>/interview.toml", "default"
    templates_sha: str  # of the template files read: a scorecard can keep it, so a later edit shows
    probes: list[Probe]  # what the kit probes, in the canonical order
    questions: list[KitQuestion]


def held_back_terms(ctx: CheckContext) -> list[str]:
    """Scenario and phase names of the graded plan the candidate never saw, lower case, longest first.

    A hyphenated name also counts with spaces ("channel mix"). Names the public self-check uses
    too (steady traffic, a restart ...) ship in every bundle, so they are not held back.
    """
    names = set(ctx.traffic) | set(ctx.scenarios)
    names |= {p.truth.name for tr in ctx.traffic.values() for p in tr.phases}
    names |= {p.name for sc in ctx.scenarios.values() for p in sc.phases}
    terms = set()
    for name in {n.lower() for n in names} - _public_names(ctx.exercise):
        if len(name) >= SHORTEST_TERM:
            terms |= {name, re.sub(r"[-_]+", " ", name)}
    return sorted(terms, key=lambda t: (-len(t), t))


def _public_names(exercise: Exercise) -> set[str]:
    try:
        public = exercise.public()
    except ConfigError:  # no public self-check to read: every name stays held back
        return set()
    return {public.name.lower()} | {p.name.lower() for p in public.phases}


def cleaner(terms: list[str], seed: int | None) -> Callable[[str], bool]:
    """text -> True when it quotes none of `terms` (as whole words, any case) nor the seed."""
    words = [re.escape(t) for t in terms]
    if seed is not None and len(str(abs(seed))) >= SHORTEST_TERM:  # a 1-2 digit number is in any text
        words.append(str(abs(seed)))
    if not words:
        return lambda text: True
    pattern = re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)
    return lambda text: pattern.search(text) is None


def exercise_templates(exercise: Exercise) -> list[tuple[str, TemplateFile, str]]:
    """[(source, templates, file text)]: the exercise's own file if it has one, then the default.

    The planner calls it too, so a bad template fails before any container starts."""
    out = []
    own = exercise.root / TEMPLATE_FILE
    if own.is_file():
        out.append((f"exercises/{exercise.id}/{TEMPLATE_FILE}", load_templates(own), own.read_text()))
    out.append(("default", load_templates(DEFAULT_TEMPLATES), DEFAULT_TEMPLATES.read_text()))
    return out


def build_kit(ctx: CheckContext, results: list[CheckResult]) -> InterviewKit | None:
    """The kit for one graded run; None for the public self-check (its report is the candidate's own)."""
    if ctx.scenarios and all(s.public for s in ctx.scenarios.values()):
        return None
    clean = cleaner(held_back_terms(ctx), ctx.seed)
    facts = run_facts(ctx, results, clean)
    by_id = {r.id: r for r in results}
    status = ctx.transcript.status
    sets = exercise_templates(ctx.exercise)
    pools: list[list[KitQuestion]] = []
    used: set[str] = set()
    for _, tfile, _ in sets:
        pool = []
        for t in tfile.questions:
            if t.id not in used and (q := _question(t, facts, by_id, status, clean)) is not None:
                pool.append(q)
        used |= {t.id for t in tfile.questions}  # an exercise's template replaces a default of the same id
        pools.append(pool)
    chosen, sources = _choose(pools)
    if len(chosen) < MIN_QUESTIONS:
        log.warning("interview kit: only %d question(s) apply to this run", len(chosen))
    digest = hashlib.sha256("".join(text for _, _, text in sets).encode()).hexdigest()[:12]
    probes = [p for p in get_args(Probe) if any(p in q.probes for q in chosen)]
    return InterviewKit(templates=[sets[i][0] for i in sources], templates_sha=digest, probes=probes,
                        questions=chosen)


def _choose(pools: list[list[KitQuestion]]) -> tuple[list[KitQuestion], list[int]]:
    """The first MAX_QUESTIONS of the first pool, topped up to MIN_QUESTIONS from the next; then every
    probe a pool can cover is covered, by swapping out a question whose probes others still cover."""
    chosen: list[KitQuestion] = []
    for pool in pools:
        room = (MAX_QUESTIONS if not chosen else MIN_QUESTIONS) - len(chosen)
        chosen += pool[:max(0, room)]
    everything = [q for pool in pools for q in pool]
    for probe in get_args(Probe):
        if any(probe in q.probes for q in chosen):
            continue
        extra = next((q for q in everything if q not in chosen and probe in q.probes), None)
        if extra is None:
            continue
        if len(chosen) < MAX_QUESTIONS:
            chosen.append(extra)
            continue
        for i in reversed(range(len(chosen))):
            others = chosen[:i] + chosen[i + 1:]
            if all(any(p in o.probes for o in others) for p in chosen[i].probes):
                chosen[i] = extra
                break
    chosen.sort(key=everything.index)
    sources = sorted({next(i for i, pool in enumerate(pools) if q in pool) for q in chosen})
    return chosen, sources


def _holds(t: Template, results: dict[str, CheckResult], status: str) -> bool:
    when = t.when
    if when.always:
        return True
    if when.status is not None:
        return status in when.status
    r = results.get(when.check or "")
    if r is None or r.not_measured is not None:
        return False
    return when.result == "measured" or (when.result == "passed") == r.passed


def _fill(text: str, facts: dict[str, str]) -> str | None:
    """The text with every {placeholder} filled; None when this run has no value for one of them."""
    if any(name not in facts for name in PLACEHOLDER.findall(text)):
        return None
    return PLACEHOLDER.sub(lambda m: facts[m.group(1)], text)


def _question(t: Template, facts: dict[str, str], results: dict[str, CheckResult], status: str,
              clean: Callable[[str], bool]) -> KitQuestion | None:
    if not _holds(t, results, status):
        return None
    texts = [t.question, t.anchors.weak, t.anchors.fair, t.anchors.good, t.anchors.strong,
             t.follow_up.ask, t.follow_up.strong]
    filled = [_fill(x, facts) for x in texts]
    if any(x is None for x in filled):
        return None
    if not all(clean(x) for x in [t.title, *filled]):  # type: ignore[list-item]
        log.warning("interview kit: template %r left out: its filled text names a held-back scenario or phase",
                    t.id)
        return None
    question, weak, fair, good, strong, ask, adapt = filled  # type: ignore[misc]
    names = [n for n in dict.fromkeys(PLACEHOLDER.findall(t.question)) if n not in CONSTANTS]
    return KitQuestion(
        id=t.id, title=t.title, probes=list(t.probes), based_on=t.when.describe(), text=question,
        evidence=[Quote(name=n, value=facts[n]) for n in names],
        anchors=[Anchor(score=i, label=label, text=x) for i, (label, x) in
                 enumerate((("weak", weak), ("fair", fair), ("good", good), ("strong", strong)), start=1)],
        follow_up=FollowUp(constraint=t.follow_up.constraint, title=CONSTRAINT_TITLES[t.follow_up.constraint],
                           ask=ask, strong=adapt))
