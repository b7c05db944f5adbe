"""Officer web application: API tokens, UI sessions and audit-chain anchors.

Revision ID: web_0001
Revises: 0002
Create Date: 2026-11-29 05:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuzet.store.coltypes

revision: str = 'web_0001'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = ('web',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_anchors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('entries', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchors'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_table('ui_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('remote', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ui_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ui_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_ui_sessions_token_hash'))
    )
    op.create_index(op.f('ix_ui_sessions_user_id'), 'ui_sessions', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ui_sessions_user_id'), table_name='ui_sessions')
    op.drop_table('ui_sessions')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('audit_anchors')
