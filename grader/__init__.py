"""shiftwork grader: replay held-back traffic against a service, check, score, report."""
