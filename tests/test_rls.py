"""The contract suite's row level security tests (static, and the dynamic isolation matrix).

The tests live once, in the package (``pgcontract.suite.test_rls``); importing them here makes plain
``pytest`` in this repository run them too.
"""

from pgcontract.suite.test_rls import *  # noqa: F403
