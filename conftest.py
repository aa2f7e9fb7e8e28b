"""Root of the contract suite (``tests/``) that users run against a DSN.

Everything comes from the pgcontract pytest plugin (registered by entry point): ``--dsn`` (or
``$PGCONTRACT_DSN``, ``$DATABASE_URL``), ``--contract`` (default ``contracts/``), ``--sql`` (default
``sql/``, loaded into a throwaway server when no DSN is given), and the session fixtures
``pgcontract_target``, ``pgcontract_snapshot`` and ``pgcontract_findings``. Add your own fixtures here.
"""
