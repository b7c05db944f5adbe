"""Alerts: incidents, response targets, escalation tree and events, handover notes, authorised absences,
notification subscriptions and the delivery log.

Revision ID: alerts_0001
Revises: 0002
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuzet.store.coltypes import JSONType, UTCDateTime

revision: str = "alerts_0001"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = ("alerts",)
depends_on: str | Sequence[str] | None = None

TABLES = ("alert_incident_links", "alert_escalations", "alert_deliveries", "alert_subscriptions",
          "alert_incidents", "alert_absences", "alert_handover_notes", "alert_escalation_levels",
          "alert_response_targets")


def upgrade() -> None:
    op.create_table('alert_response_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('acknowledge_within_s', sa.Float(), nullable=False),
    sa.Column('close_within_s', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alert_response_targets_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_response_targets')),
    sa.UniqueConstraint('region_id', 'severity', name='uq_alert_response_targets_region_severity')
    )
    op.create_table('alert_escalation_levels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alert_escalation_levels_region_id_regions')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_alert_escalation_levels_unit_id_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_escalation_levels_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_escalation_levels'))
    )
    op.create_index('ix_alert_escalation_levels_scope', 'alert_escalation_levels', ['region_id', 'unit_id', 'level'], unique=False)
    op.create_table('alert_handover_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('shift_start', UTCDateTime(), nullable=False),
    sa.Column('shift_end', UTCDateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('open_alerts', JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_alert_handover_notes_author_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alert_handover_notes_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_handover_notes'))
    )
    op.create_index(op.f('ix_alert_handover_notes_region_id'), 'alert_handover_notes', ['region_id'], unique=False)
    op.create_table('alert_absences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('start', UTCDateTime(), nullable=False),
    sa.Column('end', UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('granted_at', UTCDateTime(), nullable=False),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['granted_by'], ['users.id'], name=op.f('fk_alert_absences_granted_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_alert_absences_person_id_people')),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], name=op.f('fk_alert_absences_revoked_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_absences'))
    )
    op.create_index('ix_alert_absences_person_time', 'alert_absences', ['person_id', 'start'], unique=False)
    op.create_table('alert_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('subject_code', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('opened_at', UTCDateTime(), nullable=False),
    sa.Column('last_activity', UTCDateTime(), nullable=False),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_alert_incidents_person_id_people')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alert_incidents_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_incidents'))
    )
    op.create_index(op.f('ix_alert_incidents_person_id'), 'alert_incidents', ['person_id'], unique=False)
    op.create_index(op.f('ix_alert_incidents_region_id'), 'alert_incidents', ['region_id'], unique=False)
    op.create_table('alert_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('min_severity', sa.String(length=16), nullable=False),
    sa.Column('alert_types', JSONType(), nullable=False),
    sa.Column('events', JSONType(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_alert_subscriptions_person_id_people')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alert_subscriptions_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_subscriptions'))
    )
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=500), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('payload', JSONType(), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('sent_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_deliveries_alert_id_alerts')),
    sa.ForeignKeyConstraint(['subscription_id'], ['alert_subscriptions.id'], name=op.f('fk_alert_deliveries_subscription_id_alert_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_alert_deliveries_idempotency_key'))
    )
    op.create_index(op.f('ix_alert_deliveries_alert_id'), 'alert_deliveries', ['alert_id'], unique=False)
    op.create_index('ix_alert_deliveries_due', 'alert_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_table('alert_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('recipients', JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_escalations_alert_id_alerts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_escalations')),
    sa.UniqueConstraint('alert_id', 'reason', 'level', name='uq_alert_escalations_step')
    )
    op.create_index(op.f('ix_alert_escalations_alert_id'), 'alert_escalations', ['alert_id'], unique=False)
    op.create_table('alert_incident_links',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_incident_links_alert_id_alerts')),
    sa.ForeignKeyConstraint(['incident_id'], ['alert_incidents.id'], name=op.f('fk_alert_incident_links_incident_id_alert_incidents')),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alert_incident_links'))
    )
    op.create_index(op.f('ix_alert_incident_links_incident_id'), 'alert_incident_links', ['incident_id'], unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
