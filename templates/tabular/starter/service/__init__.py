"""Your service. Start in main.py; the TODOs mark what the grader looks at."""
