"""Operations budgets: one more reader of the check's read-only run (``read``), judged like every other
check into findings (``budgets``), and proposed from what a database measures (``propose``)."""
