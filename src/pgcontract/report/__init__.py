"""Reports of a suite run: the summary (JSON, history), the HTML report's additions."""
