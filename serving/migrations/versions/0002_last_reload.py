"""What the last model reload did (outcome, detail, time), shared by every worker for /readyz.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_state") as batch:
        batch.add_column(sa.Column("last_reload", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("service_state") as batch:
        batch.drop_column("last_reload")
