"""The HTTP API for in-store terminals: `/api/v1`, health, readiness and metrics."""
