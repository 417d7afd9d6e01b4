"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:14:51.338050
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import outreach.sql.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comm_audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("comm_audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comm_audit_log_patient", ["patient_id", "occurred_at"], unique=False
        )

    op.create_table(
        "comm_stats",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "appt_confirm",
                "appt_reminder",
                "no_show",
                "rx_refill",
                "lab_ready",
                "campaign_education",
                "urgent",
                name="purpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("clicked", sa.Integer(), nullable=False),
        sa.Column("replied", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("bounced", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "day", "org_id", "purpose", "channel", "campaign_id", "variant", name="uq_comm_stats"
        ),
    )
    op.create_table(
        "comm_templates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("family_key", sa.String(length=191), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column(
            "purpose",
            sa.Enum(
                "appt_confirm",
                "appt_reminder",
                "no_show",
                "rx_refill",
                "lab_ready",
                "campaign_education",
                "urgent",
                name="purpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column(
            "body",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "declared_variables",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.Column("whatsapp_template_name", sa.String(length=128), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("family_key", "version", name="uq_comm_templates_family_version"),
    )
    with op.batch_alter_table("comm_templates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comm_templates_lookup",
            ["purpose", "channel", "language", "is_active"],
            unique=False,
        )

    op.create_table(
        "ml_models",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trained_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "artifact",
            sa.LargeBinary()
            .with_variant(mysql.LONGBLOB(), "mariadb")
            .with_variant(mysql.LONGBLOB(), "mysql"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version", name="uq_ml_models_name_version"),
    )
    op.create_table(
        "org_comm_prefs",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("clinic_phone", sa.String(length=20), nullable=True),
        sa.Column("booking_url", sa.String(length=500), nullable=True),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column("avoid_work_hours", sa.Boolean(), nullable=True),
        sa.Column("work_hours_start", sa.Time(), nullable=True),
        sa.Column("work_hours_end", sa.Time(), nullable=True),
        sa.Column(
            "work_days",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "allowed_channels",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "preferred_channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column(
            "channel_order",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column("best_hour", sa.Integer(), nullable=True),
        sa.Column("marketing_max_per_day", sa.Integer(), nullable=True),
        sa.Column("marketing_max_per_week", sa.Integer(), nullable=True),
        sa.Column("healthcare_reminder_profile", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "patient_segments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "rule",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("patient_segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_segments_org_id"), ["org_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("record_number", sa.String(length=64), nullable=True),
        sa.Column("sex", sa.String(length=16), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patients_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("processed_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "provider_comm_prefs",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column("avoid_work_hours", sa.Boolean(), nullable=True),
        sa.Column("work_hours_start", sa.Time(), nullable=True),
        sa.Column("work_hours_end", sa.Time(), nullable=True),
        sa.Column(
            "work_days",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "allowed_channels",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "preferred_channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column(
            "channel_order",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column("best_hour", sa.Integer(), nullable=True),
        sa.Column("marketing_max_per_day", sa.Integer(), nullable=True),
        sa.Column("marketing_max_per_week", sa.Integer(), nullable=True),
        sa.Column("healthcare_reminder_profile", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("provider_id"),
    )
    with op.batch_alter_table("provider_comm_prefs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_comm_prefs_org_id"), ["org_id"], unique=False)

    op.create_table(
        "comm_campaigns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "purpose",
            sa.Enum(
                "appt_confirm",
                "appt_reminder",
                "no_show",
                "rx_refill",
                "lab_ready",
                "campaign_education",
                "urgent",
                name="purpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "scheduled",
                "running",
                "completed",
                "cancelled",
                name="campaignstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "variants",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.Column("scheduled_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column(
            "created_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["patient_segments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("comm_campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comm_campaigns_org_id"), ["org_id"], unique=False)

    op.create_table(
        "patient_comm_prefs",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("whatsapp", sa.String(length=20), nullable=True),
        sa.Column("contact_consent", sa.Boolean(), nullable=False),
        sa.Column("consent_granted_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("consent_expires_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("marketing_opt_in_email", sa.Boolean(), nullable=False),
        sa.Column("marketing_opt_in_sms", sa.Boolean(), nullable=False),
        sa.Column("marketing_opt_in_whatsapp", sa.Boolean(), nullable=False),
        sa.Column("whatsapp_opt_in", sa.Boolean(), nullable=False),
        sa.Column("opted_out_email", sa.Boolean(), nullable=False),
        sa.Column("opted_out_sms", sa.Boolean(), nullable=False),
        sa.Column("opted_out_whatsapp", sa.Boolean(), nullable=False),
        sa.Column(
            "failed_channels",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column("last_inbound_whatsapp_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column("avoid_work_hours", sa.Boolean(), nullable=True),
        sa.Column("work_hours_start", sa.Time(), nullable=True),
        sa.Column("work_hours_end", sa.Time(), nullable=True),
        sa.Column(
            "work_days",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "allowed_channels",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "preferred_channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column(
            "channel_order",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=True,
        ),
        sa.Column("best_hour", sa.Integer(), nullable=True),
        sa.Column("marketing_max_per_day", sa.Integer(), nullable=True),
        sa.Column("marketing_max_per_week", sa.Integer(), nullable=True),
        sa.Column("healthcare_reminder_profile", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patient_id"),
    )
    with op.batch_alter_table("patient_comm_prefs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_comm_prefs_consent_expires_at"),
            ["consent_expires_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_patient_comm_prefs_phone"), ["phone"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_patient_comm_prefs_whatsapp"), ["whatsapp"], unique=False
        )

    op.create_table(
        "comm_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=191), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("appointment_id", sa.String(length=64), nullable=True),
        sa.Column("source_event_id", sa.String(length=64), nullable=True),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "purpose",
            sa.Enum(
                "appt_confirm",
                "appt_reminder",
                "no_show",
                "rx_refill",
                "lab_ready",
                "campaign_education",
                "urgent",
                name="purpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "processing",
                "sent",
                "delivered",
                "opened",
                "clicked",
                "replied",
                "failed",
                "bounced",
                "cancelled",
                "suppressed",
                name="jobstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "suppression_reason",
            sa.Enum(
                "opted_out",
                "no_consent",
                "no_marketing_opt_in",
                "consent_expired",
                "quiet_hours_deadline",
                "frequency_cap",
                "no_reachable_channel",
                "phi_policy",
                "deadline_passed",
                name="suppressionreason",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("requested_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("scheduled_for", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("deadline", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("sending_attempt", sa.Integer(), nullable=True),
        sa.Column("send_token", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column(
            "template_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("variant", sa.String(length=16), nullable=True),
        sa.Column(
            "context",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("sent_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("delivered_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("replied_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column(
            "created_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["comm_campaigns.id"],
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["comm_templates.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("comm_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_comm_jobs_appointment", ["appointment_id"], unique=False)
        batch_op.create_index("ix_comm_jobs_due", ["status", "scheduled_for"], unique=False)
        batch_op.create_index("ix_comm_jobs_patient_status", ["patient_id", "status"], unique=False)
        batch_op.create_index(
            "ix_comm_jobs_provider_message", ["provider_message_id"], unique=False
        )

    op.create_table(
        "campaign_enrollments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "enrolled_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["comm_campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["comm_jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "patient_id", name="uq_campaign_enrollments_patient"),
    )
    op.create_table(
        "comm_inbound",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=True),
        sa.Column(
            "body",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("received_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("intent", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("handled_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column(
            "created_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["job_id"], ["comm_jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "provider_message_id", name="uq_comm_inbound_provider_msg"),
    )
    with op.batch_alter_table("comm_inbound", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comm_inbound_from_address"), ["from_address"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_comm_inbound_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "comm_status_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("occurred_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column(
            "received_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "raw",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["job_id"], ["comm_jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "provider", "provider_message_id", "status", name="uq_comm_status_events_once"
        ),
    )
    with op.batch_alter_table("comm_status_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comm_status_events_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping FK-backing indexes first fails on MariaDB.
    op.drop_table("comm_status_events")
    op.drop_table("comm_inbound")
    op.drop_table("campaign_enrollments")
    op.drop_table("comm_jobs")
    op.drop_table("patient_comm_prefs")
    op.drop_table("comm_campaigns")
    op.drop_table("provider_comm_prefs")
    op.drop_table("processed_events")
    op.drop_table("patients")
    op.drop_table("patient_segments")
    op.drop_table("org_comm_prefs")
    op.drop_table("ml_models")
    op.drop_table("comm_templates")
    op.drop_table("comm_stats")
    op.drop_table("comm_audit_log")
