"""TO BE WRITTEN (issue 22)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
