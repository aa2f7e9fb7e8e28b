"""The contract suite's security lints (one test per rule).

The tests live once, in the package (``pgcontract.suite.test_lints``); importing them here makes plain
``pytest`` in this repository run them too.
"""

from pgcontract.suite.test_lints import *  # noqa: F403
