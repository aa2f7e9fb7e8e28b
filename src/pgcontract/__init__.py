"""pgcontract: prove a PostgreSQL database is what the application expects."""

__version__ = "0.1.0"
