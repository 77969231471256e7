"""Support-ticket triage service (reference solution for shiftwork's support-triage exercise)."""
