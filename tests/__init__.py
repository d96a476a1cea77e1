"""Caucus's tests: ``tests/harness/`` holds what they stand on, ``conftest.py`` the fixtures."""
