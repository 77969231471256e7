"""teams, and the grading that counts for an invite

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 18:43:16.378487
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None
DEFAULT_TEAM = "Default"  # harness.store.models.DEFAULT_TEAM at the time of this revision


def upgrade() -> None:
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('team_members',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('recruiter_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['recruiter_id'], ['recruiters.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'recruiter_id')
    )
    # Every invite and every account of today's schema goes into one default team: nothing is lost,
    # and everyone sees what they saw before.
    conn = op.get_bind()
    conn.execute(sa.text("INSERT INTO teams (name, created_at) VALUES (:name, CURRENT_TIMESTAMP)"),
                 {"name": DEFAULT_TEAM})
    team_id = conn.execute(sa.text("SELECT id FROM teams WHERE name = :name"), {"name": DEFAULT_TEAM}).scalar_one()
    conn.execute(sa.text("INSERT INTO team_members (team_id, recruiter_id) SELECT :team, id FROM recruiters"),
                 {"team": team_id})
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('counted_job_id', sa.Integer(), nullable=True))
    conn.execute(sa.text("UPDATE invites SET team_id = :team"), {"team": team_id})
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.alter_column('team_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_invites_team_id'), ['team_id'], unique=False)
        batch_op.create_foreign_key('fk_invites_team_id_teams', 'teams', ['team_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_constraint('fk_invites_team_id_teams', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invites_team_id'))
        batch_op.drop_column('team_id')
        batch_op.drop_column('counted_job_id')

    op.drop_table('team_members')
    op.drop_table('teams')
