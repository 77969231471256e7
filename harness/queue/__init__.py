"""The grading queue: jobs in the app database, carried to workers by Celery.

The database is the truth (state, lease, attempts, results); a Celery message only says
"look at job N". A lost or repeated message therefore cannot lose or double a grading:
the reaper re-sends jobs whose lease ran out, and a worker that finds a job already
final, or leased by someone else, does nothing.
"""
