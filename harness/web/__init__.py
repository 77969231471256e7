"""The web app: recruiters' invites and reports, candidates' links, the grading queue's jobs.

Layers: settings (built by the CLI or a test, passed down) -> db (engine, sessions,
migrations) -> models -> the routers (recruiter pages, candidate pages, JSON API) ->
app (the factory). The queue (harness.queue) shares the models and the database.
"""
