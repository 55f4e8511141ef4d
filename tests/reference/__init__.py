"""Independent, pure-Python reference implementations of SPEC (tests only)."""
