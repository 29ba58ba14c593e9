"""Campaigns: the plans planners keep, the results brands import (invitations, posts, unit sales) and the measured
lift of each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _of_campaign() -> list:
    return [sa.Column("campaign_id", sa.String(200), primary_key=True),
            sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE")]


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("brand", sa.String(200)),
        sa.Column("name", sa.String(200)),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("start_date", sa.Date()),
        sa.Column("weeks", sa.Float()),
        sa.Column("unplanned", sa.Boolean(), nullable=False),
        sa.Column("brief", sa.Text(), nullable=False),
        sa.Column("budget", sa.Float()),
        sa.Column("request", sa.Text()),
        sa.Column("answer", sa.Text()),
        sa.Column("model_versions", sa.Text()),
        sa.Column("niche", sa.String(64)),
        *[sa.Column(f"forecast_{q}", sa.Float()) for q in ("mean", "p10", "p50", "p90")],
        sa.Column("results_digest", sa.String(64)),
        sa.Column("imported_at", sa.String(32)),
    )
    op.create_index("ix_campaigns_brand", "campaigns", ["brand"])
    op.create_table(
        "campaign_invitations", *_of_campaign(),
        sa.Column("creator_id", sa.String(200), primary_key=True),
        sa.Column("posted", sa.Boolean(), nullable=False),
        sa.Column("fee", sa.Float()),
    )
    op.create_table(
        "campaign_posts", *_of_campaign(),
        sa.Column("post_id", sa.String(200), primary_key=True),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.Column("engagements", sa.BigInteger(), nullable=False),
        sa.Column("sponsored", sa.Boolean(), nullable=False),
        sa.Column("format", sa.String(64)),
        sa.Column("impressions", sa.BigInteger()),
        sa.Column("clicks", sa.BigInteger()),
        sa.Column("conversions", sa.BigInteger()),
        sa.Column("cost", sa.Float()),
        sa.Column("creator_followers", sa.Float()),
    )
    op.create_table(
        "campaign_sales", *_of_campaign(),
        sa.Column("date", sa.Date(), primary_key=True),
        sa.Column("units", sa.Float(), nullable=False),
    )
    op.create_table(
        "campaign_measurements", *_of_campaign(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("result", sa.Text()),
        *[sa.Column(f"during_{q}", sa.Float()) for q in ("mean", "p10", "p50", "p90")],
        sa.Column("attributed_units", sa.Float()),
        sa.Column("measured_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for name in ("campaign_measurements", "campaign_sales", "campaign_posts", "campaign_invitations"):
        op.drop_table(name)
    op.drop_index("ix_campaigns_brand", "campaigns")
    op.drop_table("campaigns")
