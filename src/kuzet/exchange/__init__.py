"""The open exchange format ``emx/1`` (../shared/scenarios/FORMAT.md): read, write, import, export."""

from .bundle import Bundle, BundleError, read_bundle, read_reports, write_bundle

__all__ = ["Bundle", "BundleError", "read_bundle", "read_reports", "write_bundle"]
