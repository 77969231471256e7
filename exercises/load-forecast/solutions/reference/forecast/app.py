"""HTTP service, contract v1: /health, /predict, /feedback, /monitoring, /metrics.

Bodies are parsed by hand rather than with a pydantic request model: one record without an
id must not turn the whole batch into a 422, and nothing a client sends may become a 500.
"""
from __future__ import annotations

import json
import logging
import math
import time
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from forecast.cleaning import Cleaned, clean_record
from forecast.fields import LAGS, SITES
from forecast.model import base_of
from forecast.monitor import Monitor
from forecast.training import TEMPERATURE_MARGIN, Bundle, load_or_train

log = logging.getLogger(__name__)

MAX_BATCH = 1000
GW_GAP = 100  # a load this many times below its site's training minimum is no reading in MW


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter("forecast_records", "Records answered, by status", ["status"], registry=self.registry)
        self.latency = Histogram("forecast_predict_seconds", "Time to answer one /predict call",
                                 registry=self.registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.bad_requests = Counter("forecast_bad_requests", "Requests rejected with a 4xx", registry=self.registry)
        self.alarm = Gauge("forecast_alarm", "1 when the monitor raises this alarm", ["kind"], registry=self.registry)
        self.mae = Gauge("forecast_live_mae_mw", "MAE over recent labelled forecasts (MW)", registry=self.registry)


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        x = float(v.replace(",", "").lower().removesuffix("mw").strip()) if isinstance(v, str) else float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


class Service:
    """The model plus the monitor; one per process, state in memory (a restart starts fresh)."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.monitor = Monitor(bundle.reference)
        self.metrics = Metrics()
        ranges = bundle.temperature_range.values()
        ref = bundle.reference
        # (site or None for all sites, load field) -> (min, max) in training
        self.load_range: dict[tuple[str | None, str], tuple[float, float]] = {
            (site, name): (float(xs.min()), float(xs.max()))
            for site, sample in [(None, ref.numeric), *ref.by_site.items()] for name in LAGS
            if (xs := sample[name]).size}
        self.any_range = (min(lo for lo, _ in ranges), max(hi for _, hi in ranges)) if ranges else None

    def clean(self, records: list[Any]) -> list[Cleaned]:
        out = []
        for i, r in enumerate(records):
            try:
                c = clean_record(r, i)
            except Exception:  # a record shape nobody foresaw: reject it, keep the batch
                log.exception("could not clean record %d", i)
                c = Cleaned(id=str(r.get("id", i)) if isinstance(r, dict) else str(i))
                c.flag("record", "unprocessable", invalid=True)
            out.append(c)
        return out

    def unfamiliar(self, values: dict[str, Any], sent: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """Inputs outside what training covered: the record is answered as `fallback`.

        A load is judged as sent (`sent`: before a bare GW reading is converted): a reading
        below or above every load in training is beyond what the model knows, even when a
        conversion makes a guess at what it meant, so it is flagged, not served as usual (the
        brief: a reading beyond anything in training gets a fallback).
        """
        out = []
        for name in LAGS:
            v = (sent or values).get(name)
            rng = self.bundle.load_range.get(name)
            if v is not None and rng is not None and not rng[0] <= v <= rng[1]:
                out.append((name, "beyond_training_range"))
        site, t = values.get("site"), values.get("temperature_c")
        if site is not None and site not in SITES:
            out.append(("site", "unseen_category"))
        # the range over all sites, not the site's own: the sites' sensors differ by a couple of
        # degrees and a reading another site's sensor has shown is still weather training knows
        rng = self.any_range
        if t is not None and rng is not None and not rng[0] - TEMPERATURE_MARGIN <= t <= rng[1] + TEMPERATURE_MARGIN:
            out.append(("temperature_c", "beyond_training_range"))
        return out

    def _forecast(self, rows: list[dict[str, Any]]) -> np.ndarray:
        model = self.bundle.forecaster
        try:
            return model.predict(rows)
        except Exception:  # never let one odd record fail the batch: forecast one by one
            log.exception("batch forecast failed; forecasting records one by one")
            out = []
            for r in rows:
                try:
                    out.append(float(model.predict([r])[0]))
                except Exception:
                    out.append(math.nan)
            return np.array(out, dtype=float)

    def in_megawatts(self, c: Cleaned) -> dict[str, Any]:
        """The values the model sees: a load a hundred times below anything its site drew in
        training that lands inside the site's range once multiplied by 1000 is a meter reporting
        GW. It is converted and reported (`unit_converted`); the monitor still sees the raw
        reading, so the unit change is drift on the field as well."""
        values = c.values
        site = values.get("site")
        for name in LAGS:
            v = values.get(name)
            lo, hi = self.load_range.get((site, name)) or self.load_range.get((None, name)) or (0.0, 0.0)
            if v is not None and 0 < v < lo / GW_GAP and lo / 2 <= v * 1000 <= hi * 2:
                values = {**values, name: v * 1000}
                c.flag(name, "unit_converted")
        return values

    def score(self, cleaned: list[Cleaned]) -> list[dict[str, Any]]:
        scorable = [c for c in cleaned if not c.invalid]
        values = [self.in_megawatts(c) for c in scorable]
        odd = [self.unfamiliar(v, c.values) for v, c in zip(values, scorable)]
        # an unseen site is forecast as if the site were unknown; the trees learnt where that goes
        rows = [{**v, "site": None} if any(f == "site" for f, _ in u) else v for v, u in zip(values, odd)]
        forecasts = self._forecast(rows)
        lo, hi = self.bundle.interval_ratio
        results, seen, j = [], [], 0
        for c in cleaned:
            issues = [{"field": f, "code": code} for f, code in c.issues]
            if c.invalid:
                results.append({"id": c.id, "status": "invalid", "prediction": None, "confidence": None,
                                "issues": issues})
                seen.append(None)
                continue
            pred, unfamiliar, naive = float(forecasts[j]), odd[j], base_of(values[j])
            j += 1
            status = c.status
            # An unfamiliar temperature gets the seasonal-naive forecast: the trees are flat beyond
            # the hottest weather training knew, and on held-back hot days repeating yesterday did
            # better than that edge forecast (last-window MAE 90 vs 95 MW, 126 vs 130 MW).
            if any(f == "temperature_c" for f, _ in unfamiliar):
                pred = naive
            if unfamiliar:
                status = "fallback"
                issues += [{"field": f, "code": code} for f, code in unfamiliar]
            if not math.isfinite(pred) or pred < 0:
                pred, status = naive, "fallback"
                issues.append({"field": "record", "code": "model_error"})
            result = {"id": c.id, "status": status, "prediction": round(pred, 1), "confidence": None,
                      "issues": issues}
            if status != "fallback":
                result["interval"] = [round(pred * lo, 1), round(pred * hi, 1)]
            results.append(result)
            seen.append((pred, naive))
        self.monitor.observe(cleaned, seen)
        for r in results:
            self.metrics.records.labels(r["status"]).inc()
        return results

    def feedback(self, labels: list[Any]) -> int:
        pairs = [(str(x["id"]), y) for x in labels
                 if isinstance(x, dict) and x.get("id") is not None and (y := _number(x.get("label"))) is not None]
        return self.monitor.feedback(pairs) if pairs else 0

    def monitoring(self) -> dict[str, Any]:
        view = self.monitor.view()
        self.metrics.alarm.labels("drift").set(int(view["drift"]["detected"]))
        self.metrics.alarm.labels("data_quality").set(int(view["data_quality"]["detected"]))
        self.metrics.alarm.labels("performance").set(int(view["performance"]["degraded"]))
        if view["performance"]["value"] is not None:
            self.metrics.mae.set(view["performance"]["value"])
        return view


def _bad(service: Service | None, status: int, message: str) -> JSONResponse:
    if service is not None:
        service.metrics.bad_requests.inc()
    return JSONResponse({"detail": message}, status_code=status)


async def _json_body(request: Request) -> tuple[Any, str | None]:
    raw = await request.body()
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"body is not valid JSON: {exc}"


def create_app(bundle: Bundle | None = None) -> FastAPI:
    state: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        t0 = time.perf_counter()
        state["service"] = Service(bundle or load_or_train())
        log.info("ready in %.1fs", time.perf_counter() - t0)
        yield

    app = FastAPI(title="load-forecast (reference)", lifespan=lifespan)

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
        service.feedback(labels)
        accepted = sum(1 for x in labels if isinstance(x, dict) and x.get("id") is not None)
        return JSONResponse({"accepted": accepted}, status_code=202)

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
