"""The creator catalog and the state every worker follows (catalog revision, model version set).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "creators",
        sa.Column("creator_id", sa.String(200), primary_key=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("niche", sa.String(64), nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=False),
        sa.Column("following", sa.BigInteger()),
        sa.Column("posts_count", sa.BigInteger()),
        sa.Column("country", sa.String(64)),
        sa.Column("avg_views", sa.Float()),
        sa.Column("audience_quality", sa.Float()),
        sa.Column("sponsored_share", sa.Float()),
        sa.Column("price_per_post", sa.Float()),
        sa.Column("posts_per_week", sa.Float()),
        sa.Column("hist_posts", sa.Float()),
        sa.Column("hist_log_er_mean", sa.Float()),
        sa.Column("hist_log_er_sd", sa.Float()),
        sa.Column("track_posts", sa.Float()),
        sa.Column("track_units", sa.Float()),
        sa.Column("track_followers_k", sa.Float()),
    )
    op.create_index("ix_creators_platform_niche", "creators", ["platform", "niche"])
    op.create_index("ix_creators_followers", "creators", ["followers"])
    state = op.create_table(
        "service_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("catalog_revision", sa.BigInteger(), nullable=False),
        sa.Column("model_generation", sa.BigInteger(), nullable=False),
        sa.Column("model_versions", sa.Text()),
    )
    op.bulk_insert(state, [{"id": 1, "catalog_revision": 0, "model_generation": 0, "model_versions": None}])


def downgrade() -> None:
    op.drop_table("service_state")
    op.drop_index("ix_creators_followers", "creators")
    op.drop_index("ix_creators_platform_niche", "creators")
    op.drop_table("creators")
