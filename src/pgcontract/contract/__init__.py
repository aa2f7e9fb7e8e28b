"""The contract: model, loading with positions, JSON Schema."""

from pgcontract.contract.loader import ContractError, ContractIssue, load_contract
from pgcontract.contract.model import (
    Check,
    Column,
    Contract,
    ForeignKey,
    Index,
    IndexExpression,
    Policy,
    Rls,
    Table,
    Unique,
)

__all__ = [
    "Check",
    "Column",
    "Contract",
    "ContractError",
    "ContractIssue",
    "ForeignKey",
    "Index",
    "IndexExpression",
    "Policy",
    "Rls",
    "Table",
    "Unique",
    "load_contract",
]
