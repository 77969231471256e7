"""HTTP service, contract v1: /health, /predict, /feedback, /monitoring, /metrics.

Bodies are parsed by hand rather than with a pydantic request model: one record without an
id must not turn the whole batch into a 422, and nothing a client sends may become a 500.
A classification target is answered with a class and its probability, a numeric one
(service/fields.py TARGET) with a number and no confidence.
"""
from __future__ import annotations

import json
import logging
import math
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.cleaning import Cleaned, clean_record, parse_target
from service.fields import EXERCISE, TARGET, TIMESTAMP_FIELDS
from service.monitor import Monitor
from service.training import Bundle, NumberBundle, load_or_train

log = logging.getLogger(__name__)

MAX_BATCH = 1000
NUMERIC_TARGET = TARGET == "regression"
# what /monitoring's performance value is, in the gauges' names and help
METRIC = ("mae", "Mean absolute error") if NUMERIC_TARGET else ("accuracy", "Accuracy")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter("service_records", "Records answered, by status", ["status"], registry=self.registry)
        self.latency = Histogram("service_predict_seconds", "Time to answer one /predict call", registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.bad_requests = Counter("service_bad_requests", "Requests rejected with a 4xx", registry=self.registry)
        self.alarm = Gauge("service_alarm", "1 when the monitor raises this alarm", ["kind"], registry=self.registry)
        name, what = METRIC
        self.performance = Gauge(f"service_live_{name}", f"{what} over recent labelled predictions",
                                 registry=self.registry)
        self.slice_performance = Gauge(f"service_live_slice_{name}", f"{what} over recent labelled predictions, "
                                       "per group", ["field", "value"], registry=self.registry)


class Service:
    """The model plus the monitor; one per process, state in memory (a restart starts fresh)."""

    def __init__(self, bundle: Bundle | NumberBundle) -> None:
        self.bundle = bundle
        self.monitor = Monitor(bundle.reference)
        self.metrics = Metrics()
        self.last_seen: datetime | None = None  # dates records that come without a readable timestamp

    def clean(self, records: list[Any]) -> list[Cleaned]:
        now = self.last_seen or datetime.now(timezone.utc)
        out = []
        for i, r in enumerate(records):
            try:
                c = clean_record(r, i, now=now)
            except Exception:  # a record shape nobody foresaw: reject it, keep the batch
                log.exception("could not clean record %d", i)
                c = Cleaned(id=str(r.get("id", i)) if isinstance(r, dict) else str(i))
                c.flag("record", "unprocessable", invalid=True)
            ts = c.values.get(TIMESTAMP_FIELDS[0])
            if isinstance(ts, datetime) and (self.last_seen is None or ts > self.last_seen):
                self.last_seen = ts
            out.append(c)
        return out

    def _proba(self, rows: list[dict[str, Any]], without: list[list[str]]) -> np.ndarray:
        clf = self.bundle.classifier
        rows = [{**r, **{f: None for f in w}} for r, w in zip(rows, without)]
        try:
            return clf.predict_proba(rows)
        except Exception:  # never let one odd record fail the batch: score one by one
            log.exception("batch scoring failed; scoring records one by one")
            out = []
            for r in rows:
                try:
                    out.append(clf.predict_proba([r])[0])
                except Exception:
                    out.append(np.array([float(c == self.bundle.default_label) for c in clf.classes]))
            return np.vstack(out) if out else np.zeros((0, len(clf.classes)))

    def score(self, cleaned: list[Cleaned]) -> list[dict[str, Any]]:
        results, preds = self._numbers(cleaned) if NUMERIC_TARGET else self._classes(cleaned)
        self.monitor.observe(cleaned, preds)
        for r in results:
            self.metrics.records.labels(r["status"]).inc()
        return results

    def _classes(self, cleaned: list[Cleaned]) -> tuple[list[dict[str, Any]], list[str | None]]:
        clf = self.bundle.classifier
        scorable = [c for c in cleaned if not c.invalid]
        # an unfamiliar value (a category value never seen in training) is scored by the model
        # without that input, and the answer is flagged for review
        unseen = [clf.featurizer.unseen_categories(c.values) for c in scorable]
        proba = self._proba([c.values for c in scorable], unseen)
        results, preds, j = [], [], 0
        for c in cleaned:
            issues = [{"field": f, "code": code} for f, code in c.issues]
            if c.invalid:
                results.append({"id": c.id, "status": "invalid", "prediction": None, "confidence": None,
                                "issues": issues})
                preds.append(None)
                continue
            p, fields = proba[j], unseen[j]
            j += 1
            k = int(np.argmax(p))
            label, conf = clf.classes[k], float(p[k])
            status = c.status
            if fields:
                status = "fallback"
                issues += [{"field": f, "code": "unseen_category"} for f in fields]
            elif conf < self.bundle.confidence_floor:
                status = "fallback"
                issues.append({"field": "record", "code": "low_confidence"})
            if not np.isfinite(conf):
                label, conf, status = self.bundle.default_label, 0.5, "fallback"
                issues.append({"field": "record", "code": "model_error"})
            results.append({"id": c.id, "status": status, "prediction": label,
                            "confidence": round(min(max(conf, 0.0), 1.0), 4), "issues": issues})
            preds.append(label)
        return results, preds

    def _estimate(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, typical error) per row; NaN where the model fails on a row (the caller falls back)."""
        b = self.bundle
        try:
            return b.regressor.predict(rows), b.spread.predict(rows)
        except Exception:  # never let one odd record fail the batch: score one by one
            log.exception("batch scoring failed; scoring records one by one")
            out = []
            for r in rows:
                try:
                    out.append((float(b.regressor.predict([r])[0]), float(b.spread.predict([r])[0])))
                except Exception:
                    out.append((math.nan, math.nan))
            return np.array([p for p, _ in out]), np.array([e for _, e in out])

    def _numbers(self, cleaned: list[Cleaned]) -> tuple[list[dict[str, Any]], list[float | None]]:
        b = self.bundle
        scorable = [c for c in cleaned if not c.invalid]
        # an unfamiliar value (a category value never seen in training) is scored by the model without
        # that input, and the answer is flagged for review: the other fields still say more than a median
        unseen = [b.regressor.featurizer.unseen_categories(c.values) for c in scorable]
        pred, spread = self._estimate([{**c.values, **{f: None for f in u}} for c, u in zip(scorable, unseen)])
        results, preds, j = [], [], 0
        for c in cleaned:
            issues = [{"field": f, "code": code} for f, code in c.issues]
            if c.invalid:
                results.append({"id": c.id, "status": "invalid", "prediction": None, "confidence": None,
                                "issues": issues})
                preds.append(None)
                continue
            y, fields = float(pred[j]), unseen[j]
            status = c.status
            if fields:
                status = "fallback"
                issues += [{"field": f, "code": "unseen_category"} for f in fields]
            elif spread[j] > b.spread_floor:  # the model errs most on records like this one
                status = "fallback"
                issues.append({"field": "record", "code": "low_confidence"})
            j += 1
            if not math.isfinite(y):
                y, status = b.safe_answer(c), "fallback"
                issues.append({"field": "record", "code": "model_error"})
            y = float(f"{y:.6g}")  # six significant digits: the rest is noise, and shorter JSON
            results.append({"id": c.id, "status": status, "prediction": y, "confidence": None, "issues": issues})
            preds.append(y)
        return results, preds

    def monitoring(self) -> dict[str, Any]:
        view = self.monitor.view()
        self.metrics.alarm.labels("drift").set(int(view["drift"]["detected"]))
        self.metrics.alarm.labels("data_quality").set(int(view["data_quality"]["detected"]))
        self.metrics.alarm.labels("performance").set(int(view["performance"]["degraded"]))
        if view["performance"]["value"] is not None:
            self.metrics.performance.set(view["performance"]["value"])
        for s in view["performance"]["slices"]:
            self.metrics.alarm.labels(f"slice:{s['field']}={s['value']}").set(int(s["degraded"]))
            if s["metric_value"] is not None:
                self.metrics.slice_performance.labels(s["field"], s["value"]).set(s["metric_value"])
        return view


def _bad(service: Service | None, status: int, message: str) -> JSONResponse:
    if service is not None:
        service.metrics.bad_requests.inc()
    return JSONResponse({"detail": message}, status_code=status)


def _label_pairs(labels: list[Any]) -> list[tuple[str, str]] | list[tuple[str, float]]:
    """(id, label) for each usable entry: a class as sent, lower-cased; a numeric target's value as a number."""
    entries = [x for x in labels if isinstance(x, dict) and x.get("id") is not None and x.get("label") is not None]
    if not NUMERIC_TARGET:
        return [(str(x["id"]), str(x["label"]).strip().lower()) for x in entries]
    return [(str(x["id"]), y) for x in entries if (y := parse_target(x["label"])) is not None]


async def _json_body(request: Request) -> tuple[Any, str | None]:
    raw = await request.body()
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"body is not valid JSON: {exc}"


def create_app(bundle: Bundle | NumberBundle | None = None) -> FastAPI:
    state: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        t0 = time.perf_counter()
        state["service"] = Service(bundle or load_or_train())
        log.info("ready in %.1fs", time.perf_counter() - t0)
        yield

    app = FastAPI(title=f"{EXERCISE} (reference)", lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        if "service" not in state:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        service = state.get("service")
        if service is None:
            return JSONResponse({"detail": "model not loaded yet"}, status_code=503)
        t0 = time.perf_counter()
        payload, err = await _json_body(request)
        if err:
            return _bad(service, 400, err)
        if not isinstance(payload, dict) or "records" not in payload:
            return _bad(service, 422, "body must be a JSON object with a 'records' list")
        records = payload["records"]
        if not isinstance(records, list) or not records:
            return _bad(service, 422, "'records' must be a non-empty list")
        if len(records) > MAX_BATCH:
            return _bad(service, 413, f"at most {MAX_BATCH} records per call, got {len(records)}")
        results = service.score(service.clean(records))
        service.metrics.latency.observe(time.perf_counter() - t0)
        return JSONResponse({"results": results})

    @app.post("/feedback", status_code=202)
    async def feedback(request: Request) -> JSONResponse:
        service = state.get("service")
        if service is None:
            return JSONResponse({"detail": "model not loaded yet"}, status_code=503)
        payload, err = await _json_body(request)
        if err:
            return _bad(service, 400, err)
        labels = payload.get("labels") if isinstance(payload, dict) else None
        if not isinstance(labels, list):
            return _bad(service, 422, "body must be a JSON object with a 'labels' list")
        pairs = _label_pairs(labels)
        service.monitor.feedback(pairs)
        return JSONResponse({"accepted": len(pairs)}, status_code=202)

    @app.get("/monitoring")
    async def monitoring() -> JSONResponse:
        service = state.get("service")
        if service is None:
            return JSONResponse({"detail": "model not loaded yet"}, status_code=503)
        return JSONResponse(service.monitoring())

    @app.get("/metrics")
    async def metrics() -> Response:
        service = state.get("service")
        if service is None:
            return Response("", media_type=CONTENT_TYPE_LATEST, status_code=503)
        service.monitoring()  # refresh the alarm gauges
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
