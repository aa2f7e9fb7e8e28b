"""The contract suite: the one copy of each contract test (``pgcontract check`` runs this directory;
a repository's ``tests/test_schema.py`` re-exports it)."""

from pathlib import Path

SUITE_DIR = Path(__file__).parent
