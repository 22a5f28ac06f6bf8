"""Property tests: random workflow shapes, replayed from every prefix of their log, and
run on LocalRuntime against an in-memory driver."""
