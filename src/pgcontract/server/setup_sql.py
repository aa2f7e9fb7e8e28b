"""The SQL creating what the contract requires, served at /api/admin/setup-sql: the same complete,
idempotent DDL as ``pgcontract sql`` (``ddl.contract_ddl``)."""

from __future__ import annotations

from pgcontract.contract import Contract
from pgcontract.ddl import contract_ddl


def setup_sql(contract: Contract) -> str:
    return contract_ddl(contract)
