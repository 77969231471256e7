"""interviewers, scorecards, blind review, decisions and candidate feedback

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 02:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every account of the earlier schema is a recruiter; every team reviews with names; no feedback is out.
    # Defaults are plain strings ('0' reads as false on both databases): an expression would make SQLite's
    # batch mode copy the table, and a copy of a table others point at fails with foreign keys on.
    with op.batch_alter_table('recruiters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='recruiter', nullable=False))
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blind_review', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_released_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('feedback_score', sa.Boolean(), server_default='0', nullable=False))

    op.create_table('assignments',
    sa.Column('invite_id', sa.Integer(), nullable=False),
    sa.Column('interviewer_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by', sa.String(length=320), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['interviewer_id'], ['recruiters.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invite_id'], ['invites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('invite_id', 'interviewer_id')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_interviewer_id'), ['interviewer_id'], unique=False)

    op.create_table('scorecards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invite_id', sa.Integer(), nullable=False),
    sa.Column('interviewer_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('result_id', sa.Integer(), nullable=True),
    sa.Column('kit_version', sa.Integer(), nullable=True),
    sa.Column('templates_sha', sa.String(length=64), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('recommendation', sa.String(length=16), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['interviewer_id'], ['recruiters.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invite_id'], ['invites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invite_id', 'interviewer_id', name='uq_scorecard_interviewer')
    )
    with op.batch_alter_table('scorecards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scorecards_invite_id'), ['invite_id'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invite_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=320), nullable=False),
    sa.Column('result_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['invite_id'], ['invites.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_invite_id'), ['invite_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_invite_id'))
    op.drop_table('decisions')
    with op.batch_alter_table('scorecards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecards_invite_id'))
    op.drop_table('scorecards')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_interviewer_id'))
    op.drop_table('assignments')
    # SQLite drops a column in place (3.35+): a copied table would break the foreign keys pointing at it
    with op.batch_alter_table('invites', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('feedback_score')
        batch_op.drop_column('feedback_released_at')
    with op.batch_alter_table('teams', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('blind_review')
    with op.batch_alter_table('recruiters', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('role')
