"""JSON API v1 routers (one module per capability of the officer application)."""
