"""Reference examples shipped with tensorbridge (used by the docs, tests and benchmarks)."""
