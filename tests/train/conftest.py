"""Training tests use the shared tiny run of tests/conftest.py (`tiny`, `tiny_changes`, `tiny_run`)."""
