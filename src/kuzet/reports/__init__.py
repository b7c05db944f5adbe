"""Reports and analytics: dashboards, cost against prison, and court evidence packs."""
