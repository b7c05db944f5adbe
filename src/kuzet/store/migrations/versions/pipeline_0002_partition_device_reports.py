"""Pipeline: ``device_reports`` partitioned by day on PostgreSQL (decision 003); nothing changes on SQLite.

PostgreSQL requires every unique key of a partitioned table to contain the partition key, so the primary key
becomes ``(id, time)`` and the idempotency key ``(dedup_key, time)`` (a re-delivered report carries the same fix
time). The fitting records' foreign key to a report's id cannot reference a partitioned table by ``id`` alone;
it is dropped on PostgreSQL and the devices area checks the reference when a fitting record is written.

Existing rows are copied into their days' partitions; days ahead are created by ``kuzet.store.partitions``.

Revision ID: pipeline_0002
Revises: pipeline_0001
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

revision: str = "pipeline_0002"
down_revision: str | Sequence[str] | None = "pipeline_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "devices_0001"

_FK = "fk_device_fitting_records_test_report_id_device_reports"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from kuzet.store import partitions

    op.execute(f"ALTER TABLE device_fitting_records DROP CONSTRAINT IF EXISTS {_FK}")
    op.execute("ALTER TABLE device_reports RENAME TO device_reports_unpartitioned")
    op.execute("ALTER TABLE device_reports_unpartitioned RENAME CONSTRAINT pk_device_reports TO pk_device_reports_old")
    op.execute("ALTER TABLE device_reports_unpartitioned RENAME CONSTRAINT uq_device_reports_dedup_key "
               "TO uq_device_reports_dedup_key_old")
    op.execute("ALTER INDEX ix_device_reports_device_time RENAME TO ix_device_reports_device_time_old")
    op.execute("ALTER INDEX ix_device_reports_person_time RENAME TO ix_device_reports_person_time_old")
    op.execute("CREATE TABLE device_reports (LIKE device_reports_unpartitioned INCLUDING DEFAULTS "
               "INCLUDING CONSTRAINTS) PARTITION BY RANGE (time)")
    op.execute("ALTER SEQUENCE device_reports_id_seq OWNED BY device_reports.id")
    op.execute("ALTER TABLE device_reports ADD CONSTRAINT pk_device_reports PRIMARY KEY (id, time)")
    op.execute("ALTER TABLE device_reports ADD CONSTRAINT uq_device_reports_dedup_key UNIQUE (dedup_key, time)")
    op.execute("ALTER TABLE device_reports ADD CONSTRAINT fk_device_reports_person_id_people "
               "FOREIGN KEY (person_id) REFERENCES people (id)")
    op.execute("CREATE INDEX ix_device_reports_device_time ON device_reports (device, time)")
    op.execute("CREATE INDEX ix_device_reports_person_time ON device_reports (person_id, time)")
    op.execute(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF device_reports DEFAULT")
    days = bind.execute(text("SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM device_reports_unpartitioned"
                             )).scalars().all()
    partitions.ensure_days(bind, days)
    partitions.maintain(bind, datetime.now(UTC))
    op.execute("INSERT INTO device_reports SELECT * FROM device_reports_unpartitioned")
    op.execute("DROP TABLE device_reports_unpartitioned")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE device_reports_plain (LIKE device_reports INCLUDING DEFAULTS)")
    op.execute("ALTER SEQUENCE device_reports_id_seq OWNED BY device_reports_plain.id")
    # Two rows may share a dedup_key with different times only after the upgrade; the first one stays.
    op.execute("INSERT INTO device_reports_plain SELECT DISTINCT ON (dedup_key) * FROM device_reports "
               "ORDER BY dedup_key, id")
    op.execute("DROP TABLE device_reports")
    op.execute("ALTER TABLE device_reports_plain RENAME TO device_reports")
    op.execute("ALTER TABLE device_reports ADD CONSTRAINT pk_device_reports PRIMARY KEY (id)")
    op.execute("ALTER TABLE device_reports ADD CONSTRAINT uq_device_reports_dedup_key UNIQUE (dedup_key)")
    op.execute("ALTER TABLE device_reports ADD CONSTRAINT fk_device_reports_person_id_people "
               "FOREIGN KEY (person_id) REFERENCES people (id)")
    op.execute("CREATE INDEX ix_device_reports_device_time ON device_reports (device, time)")
    op.execute("CREATE INDEX ix_device_reports_person_time ON device_reports (person_id, time)")
    op.execute(f"ALTER TABLE device_fitting_records ADD CONSTRAINT {_FK} "
               "FOREIGN KEY (test_report_id) REFERENCES device_reports (id)")
