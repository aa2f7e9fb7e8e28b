"""The contract suite's schema checks.

The tests live once, in the package (``pgcontract.suite.test_schema``), so that ``pgcontract check`` runs
them for any repository; importing them here makes plain ``pytest`` in this repository run them too.
"""

from pgcontract.suite.test_schema import *  # noqa: F403
