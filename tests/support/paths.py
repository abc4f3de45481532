"""Where the project's files are, for tests that read docs or write artifacts."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The project's top folder (where README.md is)."""
