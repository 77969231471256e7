"""Half-hourly demand forecasting service (reference solution for shiftwork's load-forecast exercise)."""
