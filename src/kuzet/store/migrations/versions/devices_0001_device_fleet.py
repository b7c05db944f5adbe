"""Device fleet: lifecycle history, signed fitting records, leases and invoices, health snapshots.

Also the partial unique index that allows at most one open assignment per device.

Revision ID: devices_0001
Revises: 0002
Create Date: 2026-11-29 05:22:17.899727
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuzet.store.coltypes

revision: str = 'devices_0001'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = ('devices',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('device_lease_contracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('daily_rate_tiyn', sa.BigInteger(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_device_lease_contracts_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_lease_contracts')),
    sa.UniqueConstraint('reference', name=op.f('uq_device_lease_contracts_reference'))
    )
    op.create_table('device_lease_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('total_tiyn', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['device_lease_contracts.id'], name=op.f('fk_device_lease_invoices_contract_id_device_lease_contracts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_lease_invoices')),
    sa.UniqueConstraint('contract_id', 'number', name=op.f('uq_device_lease_invoices_contract_id'))
    )
    with op.batch_alter_table('device_lease_invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_lease_invoices_contract_id'), ['contract_id'], unique=False)

    op.create_table('device_health_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_start', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('faulty', sa.Boolean(), nullable=False),
    sa.Column('flags', kuzet.store.coltypes.JSONType(), nullable=False),
    sa.Column('metrics', kuzet.store.coltypes.JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_health_snapshots_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_health_snapshots'))
    )
    with op.batch_alter_table('device_health_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_device_health_snapshots_device_at', ['device_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_health_snapshots_faulty'), ['faulty'], unique=False)

    op.create_table('device_lease_invoice_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('device_serial', sa.String(length=64), nullable=False),
    sa.Column('days_billed', sa.Integer(), nullable=False),
    sa.Column('amount_tiyn', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['device_lease_invoices.id'], name=op.f('fk_device_lease_invoice_lines_invoice_id_device_lease_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_lease_invoice_lines'))
    )
    with op.batch_alter_table('device_lease_invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_lease_invoice_lines_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('device_leases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['device_lease_contracts.id'], name=op.f('fk_device_leases_contract_id_device_lease_contracts')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_leases_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_leases')),
    sa.UniqueConstraint('contract_id', 'device_id', name=op.f('uq_device_leases_contract_id'))
    )
    with op.batch_alter_table('device_leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_leases_device_id'), ['device_id'], unique=False)

    op.create_table('device_fitting_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('fitted_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fitted_by', sa.Integer(), nullable=True),
    sa.Column('checklist', kuzet.store.coltypes.JSONType(), nullable=False),
    sa.Column('officer_name', sa.String(length=200), nullable=False),
    sa.Column('wearer_acknowledged', sa.Boolean(), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('test_report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('test_summary', kuzet.store.coltypes.JSONType(), nullable=False),
    sa.Column('address_check', sa.String(length=20), nullable=False),
    sa.Column('address_checked_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('address_detail', kuzet.store.coltypes.JSONType(), nullable=False),
    sa.Column('created_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_device_fitting_records_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_fitting_records_device_id_devices')),
    sa.ForeignKeyConstraint(['fitted_by'], ['users.id'], name=op.f('fk_device_fitting_records_fitted_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_device_fitting_records_person_id_people')),
    sa.ForeignKeyConstraint(['test_report_id'], ['device_reports.id'], name=op.f('fk_device_fitting_records_test_report_id_device_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_fitting_records')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_device_fitting_records_assignment_id'))
    )
    with op.batch_alter_table('device_fitting_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_fitting_records_address_check'), ['address_check'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_fitting_records_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_fitting_records_person_id'), ['person_id'], unique=False)

    op.create_table('device_lifecycle_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=False),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('from_unit_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('detail', kuzet.store.coltypes.JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_device_lifecycle_events_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_lifecycle_events_device_id_devices')),
    sa.ForeignKeyConstraint(['from_unit_id'], ['units.id'], name=op.f('fk_device_lifecycle_events_from_unit_id_units')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_device_lifecycle_events_person_id_people')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_device_lifecycle_events_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_lifecycle_events'))
    )
    with op.batch_alter_table('device_lifecycle_events', schema=None) as batch_op:
        batch_op.create_index('ix_device_lifecycle_events_device_at', ['device_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_lifecycle_events_person_id'), ['person_id'], unique=False)

    # A device can never be fitted to two people: at most one open assignment per device.
    op.create_index('uq_assignments_open_device', 'assignments', ['device_id'], unique=True,
                    sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))



def downgrade() -> None:
    op.drop_index('uq_assignments_open_device', table_name='assignments')

    with op.batch_alter_table('device_lifecycle_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_lifecycle_events_person_id'))
        batch_op.drop_index('ix_device_lifecycle_events_device_at')

    op.drop_table('device_lifecycle_events')
    with op.batch_alter_table('device_fitting_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_fitting_records_person_id'))
        batch_op.drop_index(batch_op.f('ix_device_fitting_records_device_id'))
        batch_op.drop_index(batch_op.f('ix_device_fitting_records_address_check'))

    op.drop_table('device_fitting_records')
    with op.batch_alter_table('device_leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_leases_device_id'))

    op.drop_table('device_leases')
    with op.batch_alter_table('device_lease_invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_lease_invoice_lines_invoice_id'))

    op.drop_table('device_lease_invoice_lines')
    with op.batch_alter_table('device_health_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_health_snapshots_faulty'))
        batch_op.drop_index('ix_device_health_snapshots_device_at')

    op.drop_table('device_health_snapshots')
    with op.batch_alter_table('device_lease_invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_lease_invoices_contract_id'))

    op.drop_table('device_lease_invoices')
    op.drop_table('device_lease_contracts')
