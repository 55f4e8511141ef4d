"""Independent, pure-Python reference implementations of docs/reference.md (tests only)."""
