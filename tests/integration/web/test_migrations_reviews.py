"""Migration 0004 (interviewers, scorecards, blind review, decisions, feedback): from revision 0003 with
accounts, teams and invites in it, every account stays a recruiter, every team reviews with names, no
feedback is out; the schema is the models'; and 0004 goes down and up again cleanly."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")


def test_revision_0004_keeps_every_account_a_recruiter_and_every_invite_unreleased(db_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from harness.store.db import _alembic_config, make_engine, migrate
    from harness.store.models import Base

    engine = make_engine(db_url)
    try:
        cfg = _alembic_config(engine)
        command.upgrade(cfg, "0003")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO recruiters (email, name, password_hash, is_admin, created_at, "
                              "failed_logins) VALUES ('a@example.com', 'A', 'x', true, CURRENT_TIMESTAMP, 0)"))
            team = conn.execute(text("SELECT id FROM teams")).scalar_one()
            conn.execute(text("INSERT INTO team_members (team_id, recruiter_id) SELECT :t, id FROM recruiters"),
                         {"t": team})
            conn.execute(text("INSERT INTO invites (token_hash, candidate_name, candidate_id, exercise, deadline, "
                              "show_score, created_at, team_id) VALUES (:h, 'Cand', 'cand-1', 'support-triage', "
                              "CURRENT_TIMESTAMP, false, CURRENT_TIMESTAMP, :t)"), {"h": "0" * 64, "t": team})
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT role FROM recruiters")).scalars().all() == ["recruiter"]
            assert conn.execute(text("SELECT blind_review FROM teams")).scalars().all() in ([False], [0])
            row = conn.execute(text("SELECT candidate_name, feedback_released_at, feedback_score FROM invites")).one()
            assert row.candidate_name == "Cand" and row.feedback_released_at is None and not row.feedback_score
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        command.downgrade(cfg, "0003")
        tables = set(inspect(engine).get_table_names())
        assert not {"assignments", "scorecards", "decisions"} & tables and "invites" in tables
        assert "role" not in {c["name"] for c in inspect(engine).get_columns("recruiters")}
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT candidate_name FROM invites")).scalars().all() == ["Cand"]
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
