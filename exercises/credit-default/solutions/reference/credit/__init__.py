"""Credit-default scoring service (reference solution for shiftwork's credit-default exercise)."""
