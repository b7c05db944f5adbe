"""The web edge: the versioned JSON API (``/api/v1``) and the officer UI. No SQL in route handlers."""
