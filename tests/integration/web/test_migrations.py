"""Migrations: from today's schema (revision 0002, with invites and accounts in it) to the newest, nothing is
lost and every invite and account lands in the default team; the newest schema is exactly the models'."""
from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")


def test_invites_and_accounts_of_the_schema_before_teams_land_in_the_default_team(db_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from harness.store.db import _alembic_config, make_engine, migrate
    from harness.store.models import DEFAULT_TEAM, Base

    engine = make_engine(db_url)
    try:
        command.upgrade(_alembic_config(engine), "0002")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO recruiters (email, name, password_hash, is_admin, created_at, failed_logins) "
                              "VALUES ('a@example.com', 'A', 'x', true, CURRENT_TIMESTAMP, 0), "
                              "('b@example.com', 'B', 'x', false, CURRENT_TIMESTAMP, 0)"))
            for n in range(3):
                conn.execute(text("INSERT INTO invites (token_hash, candidate_name, candidate_id, exercise, deadline, "
                                  "show_score, created_at) VALUES (:h, :name, :cid, 'support-triage', "
                                  "CURRENT_TIMESTAMP, false, CURRENT_TIMESTAMP)"),
                             {"h": f"{n:064d}", "name": f"Cand {n}", "cid": f"cand-{n}"})
        migrate(engine)
        with engine.connect() as conn:
            teams = conn.execute(text("SELECT id, name FROM teams")).all()
            assert [t.name for t in teams] == [DEFAULT_TEAM]
            rows = conn.execute(text("SELECT candidate_name, team_id FROM invites ORDER BY id")).all()
            assert [(r.candidate_name, r.team_id) for r in rows] == [(f"Cand {n}", teams[0].id) for n in range(3)]
            members = conn.execute(text("SELECT recruiter_id FROM team_members WHERE team_id = :t"),
                                   {"t": teams[0].id}).scalars().all()
            assert len(members) == 2
            # the migrated schema is the models' (a model changed without a migration fails here)
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], diff
    finally:
        engine.dispose()
