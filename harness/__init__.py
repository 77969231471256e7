"""shiftwork harness: CLI, data engine, runtimes, packaging."""
