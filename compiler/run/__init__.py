"""run: execute a compiled plan on an engine and summarize what it left."""
