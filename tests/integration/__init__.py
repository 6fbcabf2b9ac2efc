"""Tests against real OpenSSH servers started on loopback by tests/conftest.py."""
