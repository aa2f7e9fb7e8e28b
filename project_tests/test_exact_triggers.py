"""Every trigger finding pinned whole (project_tests/exact.py): each rule, each branch of its text and fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.exact import Exact, assert_exact

SETUP = (
    "CREATE TABLE public.t (id int PRIMARY KEY, a int, b text);"
    " CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;"
    " CREATE FUNCTION public.other() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;"
    " CREATE FUNCTION public.log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;"
    " CREATE TRIGGER t_touch BEFORE INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW"
    " WHEN (new.a IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y');"
    " CREATE TRIGGER t_log AFTER INSERT ON public.t REFERENCING NEW TABLE AS fresh"
    " FOR EACH STATEMENT EXECUTE FUNCTION public.log();"
    " CREATE TRIGGER t_off AFTER DELETE ON public.t FOR EACH ROW EXECUTE FUNCTION public.log();"
    " ALTER TABLE public.t DISABLE TRIGGER t_off;"
    " CREATE TRIGGER t_replica AFTER UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.log();"
    " ALTER TABLE public.t ENABLE REPLICA TRIGGER t_replica;"
)
TOUCH, LOG, OFF, REPLICA = "public.t.t_touch", "public.t.t_log", "public.t.t_off", "public.t.t_replica"
CREATE_TOUCH = (
    'CREATE OR REPLACE TRIGGER "t_touch" BEFORE INSERT OR UPDATE OF "a", "b" ON "public"."t" FOR EACH ROW'
    """ WHEN (new.a IS NOT NULL) EXECUTE FUNCTION "public"."touch"('x', 'y');"""
)
CREATE_LOG = (
    'CREATE OR REPLACE TRIGGER "t_log" AFTER INSERT ON "public"."t" REFERENCING NEW TABLE AS "fresh"'
    ' FOR EACH STATEMENT EXECUTE FUNCTION "public"."log"();'
)
CREATE_OFF = (
    'CREATE OR REPLACE TRIGGER "t_off" AFTER DELETE ON "public"."t" FOR EACH ROW EXECUTE FUNCTION "public"."log"();\n'
    'ALTER TABLE "public"."t" DISABLE TRIGGER "t_off";'
)
DIFFERS = "trigger {} differs"


def again(name: str, definition: str) -> str:
    return f"DROP TRIGGER {name} ON public.t; CREATE TRIGGER {name} {definition}"


def touch(definition: str) -> str:
    return again("t_touch", definition)


CASES = {
    "missing, update of columns among other events": Exact(
        SETUP,
        "DROP TRIGGER t_touch ON public.t",
        "trigger.missing",
        TOUCH,
        "trigger is missing",
        "before insert or update of a, b for each row execute public.touch()",
        "absent",
        CREATE_TOUCH,
    ),
    "missing, a statement trigger with a transition table": Exact(
        SETUP,
        "DROP TRIGGER t_log ON public.t",
        "trigger.missing",
        LOG,
        "trigger is missing",
        "after insert for each statement execute public.log()",
        "absent",
        CREATE_LOG,
    ),
    "missing, a disabled one": Exact(
        SETUP,
        "DROP TRIGGER t_off ON public.t",
        "trigger.missing",
        OFF,
        "trigger is missing",
        "after delete for each row execute public.log()",
        "absent",
        CREATE_OFF,
    ),
    "timing": Exact(
        SETUP,
        touch(
            "AFTER INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW"
            " WHEN (new.a IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y')"
        ),
        "trigger.timing",
        TOUCH,
        DIFFERS.format("timing"),
        "before",
        "after",
        CREATE_TOUCH,
    ),
    "events": Exact(
        SETUP,
        touch(
            "BEFORE UPDATE OF a, b OR DELETE ON public.t FOR EACH ROW"
            " WHEN (old.a IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y')"
        ),
        "trigger.events",
        TOUCH,
        DIFFERS.format("events"),
        "[insert, update]",
        "[delete, update]",
        CREATE_TOUCH,
        also=("trigger.when",),
    ),
    "columns": Exact(
        SETUP,
        touch(
            "BEFORE INSERT OR UPDATE OF b ON public.t FOR EACH ROW"
            " WHEN (new.a IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y')"
        ),
        "trigger.columns",
        TOUCH,
        DIFFERS.format("UPDATE OF columns"),
        "[a, b]",
        "[b]",
        CREATE_TOUCH,
    ),
    "for each": Exact(
        SETUP,
        again("t_off", "AFTER DELETE ON public.t FOR EACH STATEMENT EXECUTE FUNCTION public.log();")
        + " ALTER TABLE public.t DISABLE TRIGGER t_off",
        "trigger.for_each",
        OFF,
        DIFFERS.format("FOR EACH"),
        "row",
        "statement",
        CREATE_OFF,
    ),
    "function": Exact(
        SETUP,
        touch(
            "BEFORE INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW"
            " WHEN (new.a IS NOT NULL) EXECUTE FUNCTION public.other('x', 'y')"
        ),
        "trigger.function",
        TOUCH,
        DIFFERS.format("function"),
        "public.touch",
        "public.other",
        CREATE_TOUCH,
    ),
    "arguments": Exact(
        SETUP,
        touch(
            "BEFORE INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW"
            " WHEN (new.a IS NOT NULL) EXECUTE FUNCTION public.touch('x')"
        ),
        "trigger.arguments",
        TOUCH,
        DIFFERS.format("function arguments"),
        "[x, y]",
        "[x]",
        CREATE_TOUCH,
    ),
    "when changed": Exact(
        SETUP,
        touch(
            "BEFORE INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW"
            " WHEN (new.b IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y')"
        ),
        "trigger.when",
        TOUCH,
        DIFFERS.format("WHEN condition"),
        "new.a IS NOT NULL",
        "new.b IS NOT NULL",
        CREATE_TOUCH,
    ),
    "when lost": Exact(
        SETUP,
        touch("BEFORE INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW EXECUTE FUNCTION public.touch('x', 'y')"),
        "trigger.when",
        TOUCH,
        DIFFERS.format("WHEN condition"),
        "new.a IS NOT NULL",
        "(none)",
        CREATE_TOUCH,
    ),
    "transition table renamed": Exact(
        SETUP,
        again(
            "t_log",
            "AFTER INSERT ON public.t REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION public.log()",
        ),
        "trigger.transition_tables",
        LOG,
        DIFFERS.format("REFERENCING"),
        "old table None, new table fresh",
        "old table None, new table rows",
        CREATE_LOG,
    ),
    "disabled": Exact(
        SETUP,
        "ALTER TABLE public.t DISABLE TRIGGER t_touch",
        "trigger.enabled",
        TOUCH,
        "trigger state differs",
        "enabled",
        "disabled",
        'ALTER TABLE "public"."t" ENABLE TRIGGER "t_touch";',
    ),
    "enabled": Exact(
        SETUP,
        "ALTER TABLE public.t ENABLE TRIGGER t_off",
        "trigger.enabled",
        OFF,
        "trigger state differs",
        "disabled",
        "enabled",
        'ALTER TABLE "public"."t" DISABLE TRIGGER "t_off";',
    ),
    "always": Exact(
        SETUP,
        "ALTER TABLE public.t ENABLE ALWAYS TRIGGER t_replica",
        "trigger.enabled",
        REPLICA,
        "trigger state differs",
        "enabled replica",
        "enabled always",
        'ALTER TABLE "public"."t" ENABLE REPLICA TRIGGER "t_replica";',
    ),
}


# The contract lists the events in another order than the catalog's: compared (and shown) as sets.
HAND = {
    "triggers": {
        "public.t": {
            "t_touch": {
                "timing": "before",
                "events": ["update", "insert"],
                "columns": ["a", "b"],
                "for_each": "row",
                "function": "public.touch",
                "arguments": ["x", "y"],
                "when": "new.a IS NOT NULL",
            }
        }
    }
}
CREATE_HAND = CREATE_TOUCH.replace('BEFORE INSERT OR UPDATE OF "a", "b"', 'BEFORE UPDATE OF "a", "b" OR INSERT')
CASES |= {
    "events listed in another order, another timing": Exact(
        SETUP,
        touch(
            "AFTER INSERT OR UPDATE OF a, b ON public.t FOR EACH ROW"
            " WHEN (new.a IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y')"
        ),
        "trigger.timing",
        TOUCH,
        DIFFERS.format("timing"),
        "before",
        "after",
        CREATE_HAND,
        contract=HAND,
    ),
    "events listed in another order, another event": Exact(
        SETUP,
        touch(
            "BEFORE UPDATE OF a, b OR DELETE ON public.t FOR EACH ROW"
            " WHEN (old.a IS NOT NULL) EXECUTE FUNCTION public.touch('x', 'y')"
        ),
        "trigger.events",
        TOUCH,
        DIFFERS.format("events"),
        "[insert, update]",
        "[delete, update]",
        CREATE_HAND,
        also=("trigger.when",),
        contract=HAND,
    ),
    "missing, events listed in another order": Exact(
        SETUP,
        "DROP TRIGGER t_touch ON public.t",
        "trigger.missing",
        TOUCH,
        "trigger is missing",
        "before update of a, b or insert for each row execute public.touch()",
        "absent",
        CREATE_HAND,
        contract=HAND,
    ),
}

CASES["disabled, after a missing one"] = Exact(
    SETUP,
    "DROP TRIGGER t_log ON public.t; ALTER TABLE public.t DISABLE TRIGGER t_touch",
    "trigger.enabled",
    TOUCH,
    "trigger state differs",
    "enabled",
    "disabled",
    'ALTER TABLE "public"."t" ENABLE TRIGGER "t_touch";',
    also=("trigger.missing",),
    repairs=False,
)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_trigger_finding_is_exactly_this(
    case: Exact, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(case, target, run_sql, tmp_path)
