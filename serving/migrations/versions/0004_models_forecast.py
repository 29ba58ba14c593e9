"""A kept plan's forecast as the models gave it, before any brand calibration (what a calibration compares with).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BAND = ("mean", "p10", "p50", "p90")


def upgrade() -> None:
    for q in BAND:  # plain ALTER TABLE: SQLite adds and drops columns itself (3.35+), no table copy
        op.add_column("campaigns", sa.Column(f"models_{q}", sa.Float()))


def downgrade() -> None:
    for q in BAND:
        op.drop_column("campaigns", f"models_{q}")
