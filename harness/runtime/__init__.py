"""Runtimes run a candidate service: `local` (a subprocess, no isolation) and `docker`."""
