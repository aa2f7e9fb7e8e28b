"""The project's own corpus of real-world-style schemas (project_tests/realworld/), each written by the
project, never copied:

- saas_starter: a Supabase multi-tenant starter (profiles, accounts, memberships, projects, tasks; RLS).
- sample_store: a classic sample shop: domains, an enum, sequences, orders partitioned by range with a
  default partition, views, a materialized view with an index, OUT-parameter functions, updated_at triggers,
  an aggregate, an ordered-set aggregate and a SQL-standard function (BEGIN ATOMIC) calling it.
- plain_saas: plain PostgreSQL: sequences with custom increments, an exclusion constraint on a range,
  deferrable foreign keys, a deferrable primary key and unique constraint, a COLLATE "C" column, a NULLS
  NOT DISTINCT unique, inheritance, grants to an application role.
- gis_app: a PostGIS application on Supabase (PostGIS in ``extensions``): geometry(Point, 4326),
  geography and untyped geometry columns, GiST (with an explicit operator class), SP-GiST and BRIN
  indexes, generated columns and CHECKs calling PostGIS, views using its functions and operators, RPC
  functions taking and returning its types, a trigger deriving a geography.

For each: its snapshot checked against it passes; the snapshot's SQL loads into an empty database (after
the platform's prerequisites) which then passes, and loading it again changes nothing; each single defect
fails naming the object, and repair restores a passing check (or holds the fix back, for a reason)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.embedded import supabase_shim
from pgcontract.findings import Hazard
from project_tests.helpers import ROOT, check, errors, run_cli
from project_tests.kind_support import fresh_database, repair, run_script, schema_picture

CORPUS = ROOT / "project_tests" / "realworld"
NAMES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
SUPABASE = {"saas_starter", "gis_app"}


def schema_text(name: str) -> str:
    """The schema's SQL: ``schema.sql``, else the files of ``sql/`` in name order."""
    directory = CORPUS / name
    files = [directory / "schema.sql"] if (directory / "schema.sql").exists() else sorted(directory.glob("sql/*.sql"))
    assert files, directory
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def snapshot(target: Target, directory: Path) -> Path:
    """``pgcontract snapshot --grants all``: the application roles' privileges are part of each schema."""
    done = run_cli("snapshot", "--dsn", target.dsn, "--grants", "all")
    assert done.returncode == 0, done.stderr
    path = directory / "contract.yaml"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def check_cli(target: Target, path: Path) -> tuple[int, str]:
    done = run_cli("check", "--dsn", target.dsn, "--contract", str(path))
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(params=NAMES)
def corpus_db(
    request: pytest.FixtureRequest,
    run_sql: Callable[[str], None],
    target: Target,
) -> tuple[str, Target]:
    """The test's database (the Supabase auth shim already in it) holding one schema of the corpus."""
    name = str(request.param)
    run_sql(schema_text(name))
    return name, target


def test_the_corpus_holds_its_schemas() -> None:
    assert {"saas_starter", "sample_store", "plain_saas", "gis_app"} <= set(NAMES)


def test_a_schema_checked_against_its_own_snapshot_passes(corpus_db: tuple[str, Target], tmp_path: Path) -> None:
    _, db = corpus_db
    code, output = check_cli(db, snapshot(db, tmp_path))
    assert code == 0, output


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_and_again_changes_nothing(
    corpus_db: tuple[str, Target], pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    name, db = corpus_db
    path = snapshot(db, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    with fresh_database(pg) as fresh:
        if name in SUPABASE:
            run_script(fresh, supabase_shim().read_text(encoding="utf-8"))
        run_script(fresh, ddl.stdout)
        code, output = check_cli(fresh, path)
        assert code == 0, output
        before = schema_picture(fresh)
        run_script(fresh, ddl.stdout)
        assert schema_picture(fresh) == before


@dataclass(frozen=True)
class Defect:
    schema: str
    statement: str
    rule: str  # the rule of the (first) error found
    object: str  # the object it names
    held: Hazard | None = None  # the hazard a held fix declares (None: repair restores it all)
    reason: str = ""  # what the held fix's reason says


DEFECTS: dict[str, Defect] = {
    # sample_store
    "store: trigger dropped": Defect(
        "sample_store",
        "DROP TRIGGER products_touch ON store.products",
        "trigger.missing",
        "store.products.products_touch",
    ),
    "store: trigger on a partitioned table dropped": Defect(
        "sample_store", "DROP TRIGGER orders_touch ON store.orders", "trigger.missing", "store.orders.orders_touch"
    ),
    "store: view dropped": Defect("sample_store", "DROP VIEW store.open_orders", "view.missing", "store.open_orders"),
    "store: view redefined": Defect(
        "sample_store",
        "CREATE OR REPLACE VIEW store.product_catalog WITH (security_barrier) AS"
        " SELECT product_id, sku, title, price FROM store.products",
        "view.definition",
        "store.product_catalog",
    ),
    "store: view loses security_barrier": Defect(
        "sample_store",
        "ALTER VIEW store.product_catalog RESET (security_barrier)",
        "view.security_barrier",
        "store.product_catalog",
    ),
    "store: materialized view's index dropped": Defect(
        "sample_store",
        "DROP INDEX store.monthly_sales_month_idx",
        "index.missing",
        "store.monthly_sales.monthly_sales_month_idx",
    ),
    "store: materialized view dropped": Defect(
        "sample_store",
        "DROP MATERIALIZED VIEW store.monthly_sales",
        "view.missing",
        "store.monthly_sales",
        Hazard.LONG_LOCK,
        "creating a materialized view runs its query",
    ),
    "store: partition detached": Defect(
        "sample_store",
        "ALTER TABLE store.orders DETACH PARTITION store.orders_2026",
        "partition.detached",
        "store.orders_2026",
        Hazard.LONG_LOCK,
        "ATTACH PARTITION scans the partition",
    ),
    "store: default partition dropped": Defect(
        "sample_store",
        "ALTER TABLE store.orders DETACH PARTITION store.orders_default; DROP TABLE store.orders_default",
        "partition.missing",
        "store.orders_default",
    ),
    "store: sequence increment changed": Defect(
        "sample_store",
        "ALTER SEQUENCE store.customer_number INCREMENT BY 2",
        "sequence.increment",
        "store.customer_number",
    ),
    "store: domain CHECK dropped": Defect(
        "sample_store",
        "ALTER DOMAIN store.sku DROP CONSTRAINT sku_shape",
        "domain.check_missing",
        "store.sku.sku_shape",
        Hazard.LONG_LOCK,
        "checks every stored value of the columns using the domain (store.products.sku)",
    ),
    "store: domain default dropped": Defect(
        "sample_store", "ALTER DOMAIN store.money_amount DROP DEFAULT", "domain.default", "store.money_amount"
    ),
    "store: enum value added": Defect(
        "sample_store",
        "ALTER TYPE store.order_status ADD VALUE 'refunded'",
        "enum.values",
        "store.order_status",
        Hazard.MANUAL,
        "rows holding a removed value fail the conversion",
    ),
    "store: function volatility changed": Defect(
        "sample_store",
        "ALTER FUNCTION store.order_totals(bigint) VOLATILE",
        "function.volatility",
        "store.order_totals(p_order bigint)",
    ),
    "store: function's OUT parameters changed": Defect(
        "sample_store",
        "DROP FUNCTION store.customer_spend(bigint, timestamptz);"
        " CREATE FUNCTION store.customer_spend(p_customer bigint, p_since timestamptz DEFAULT now(),"
        " OUT orders integer, OUT spent numeric) LANGUAGE sql STABLE AS $$"
        " SELECT count(*)::integer, coalesce(sum(total), 0) FROM store.orders"
        " WHERE customer_id = p_customer AND ordered_at >= p_since $$",
        "function.arguments",
        "store.customer_spend(p_customer bigint, p_since timestamp with time zone)",
    ),
    "store: trigger function's body changed": Defect(
        "sample_store",
        "CREATE OR REPLACE FUNCTION store.touch_updated_at() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NEW; END $$",
        "function.body",
        "store.touch_updated_at()",
    ),
    "store: aggregate dropped": Defect(
        "sample_store",
        "DROP AGGREGATE store.geometric_mean(numeric)",
        "aggregate.missing",
        "store.geometric_mean(numeric)",
    ),
    "store: aggregate's initial condition changed": Defect(
        "sample_store",
        "CREATE OR REPLACE AGGREGATE store.geometric_mean(numeric) (SFUNC = store.geo_mean_state,"
        " STYPE = double precision[], FINALFUNC = store.geo_mean_final, COMBINEFUNC = store.geo_mean_combine,"
        " INITCOND = '{0,1}', PARALLEL = SAFE)",
        "aggregate.initcond",
        "store.geometric_mean(numeric)",
    ),
    "store: ordered-set aggregate's final function made read only": Defect(
        "sample_store",
        "CREATE OR REPLACE AGGREGATE store.price_percentile(frac double precision ORDER BY price numeric)"
        " (SFUNC = store.price_pct_state, STYPE = numeric[], FINALFUNC = store.price_pct_final, FINALFUNC_EXTRA,"
        " FINALFUNC_MODIFY = READ_ONLY, INITCOND = '{}')",
        "aggregate.finalfunc_modify",
        "store.price_percentile(frac double precision ORDER BY price numeric)",
        Hazard.MANUAL,
        "function store.median_price() depend on the aggregate",
    ),
    "store: SQL-standard function calling the ordered-set aggregate dropped": Defect(
        "sample_store", "DROP FUNCTION store.median_price()", "function.missing", "store.median_price()"
    ),
    # plain_saas
    "saas: exclusion constraint dropped": Defect(
        "plain_saas",
        "ALTER TABLE app.bookings DROP CONSTRAINT bookings_no_overlap",
        "exclusion.missing",
        "app.bookings.bookings_no_overlap",
        Hazard.LONG_LOCK,
        "builds its index under a lock that blocks writes",
    ),
    "saas: foreign key no longer deferrable": Defect(
        "plain_saas",
        "ALTER TABLE app.bookings ALTER CONSTRAINT bookings_room_id_fkey NOT DEFERRABLE",
        "foreign_key.deferrable",
        "app.bookings.bookings_room_id_fkey",
    ),
    "saas: primary key no longer deferrable": Defect(
        "plain_saas",
        "ALTER TABLE app.room_positions DROP CONSTRAINT room_positions_pkey,"
        " ADD CONSTRAINT room_positions_pkey PRIMARY KEY (room_id)",
        "primary_key.deferrable",
        "app.room_positions.room_positions_pkey",
        Hazard.LONG_LOCK,
        "PostgreSQL cannot ALTER a primary key's deferrability",
    ),
    "saas: unique constraint no longer deferrable": Defect(
        "plain_saas",
        "ALTER TABLE app.room_positions DROP CONSTRAINT room_positions_order_key,"
        " ADD CONSTRAINT room_positions_order_key UNIQUE (tenant_id, position)",
        "unique.deferrable",
        "app.room_positions.room_positions_order_key",
        Hazard.LONG_LOCK,
        "the constraint is added again, building a unique index",
    ),
    "saas: collation changed": Defect(
        "plain_saas",
        'ALTER TABLE app.tenants ALTER COLUMN slug TYPE text COLLATE "default"',
        "column.collation",
        "app.tenants.slug",
        Hazard.LONG_LOCK,
        "rebuilds the column's indexes",
    ),
    "saas: unique no longer NULLS NOT DISTINCT": Defect(
        "plain_saas",
        "ALTER TABLE app.members DROP CONSTRAINT members_external_ref_key,"
        " ADD CONSTRAINT members_external_ref_key UNIQUE (tenant_id, external_ref)",
        "unique.nulls_not_distinct",
        "app.members.members_external_ref_key",
        Hazard.LONG_LOCK,
        "the constraint is added again, building a unique index",
    ),
    "saas: child no longer inherits": Defect(
        "plain_saas",
        "ALTER TABLE app.booking_audit NO INHERIT app.audit_log",
        "inherits.missing",
        "app.booking_audit",
    ),
    "saas: sequence increment changed": Defect(
        "plain_saas", "ALTER SEQUENCE app.invoice_no INCREMENT BY 1", "sequence.increment", "app.invoice_no"
    ),
    "saas: descending sequence made ascending": Defect(
        "plain_saas", "ALTER SEQUENCE app.ticket_no INCREMENT BY 1", "sequence.increment", "app.ticket_no"
    ),
    "saas: grant to the application role revoked": Defect(
        "plain_saas", "REVOKE DELETE ON app.bookings FROM saas_app", "grant.missing", "app.bookings.grants to saas_app"
    ),
    "saas: grant widened": Defect(
        "plain_saas", "GRANT UPDATE ON app.invoices TO saas_app", "grant.extra", "app.invoices.grants to saas_app"
    ),
    "saas: column grant widened": Defect(
        "plain_saas",
        "GRANT SELECT (name) ON app.tenants TO PUBLIC",
        "grant.column_extra",
        "app.tenants.name grants to public",
    ),
    "saas: schema usage revoked": Defect(
        "plain_saas",
        "REVOKE USAGE ON SCHEMA app FROM saas_app",
        "schema_grant.missing",
        "schema app grants to saas_app",
    ),
    # saas_starter
    "starter: policy dropped": Defect(
        "saas_starter",
        'DROP POLICY "Members work on their projects" ON public.projects',
        "policy.missing",
        "public.projects.Members work on their projects",
    ),
    "starter: RLS disabled": Defect(
        "saas_starter", "ALTER TABLE public.tasks DISABLE ROW LEVEL SECURITY", "rls.disabled", "public.tasks"
    ),
    "starter: signup trigger dropped": Defect(
        "saas_starter",
        "DROP TRIGGER projects_stamp_created_by ON public.projects",
        "trigger.missing",
        "public.projects.projects_stamp_created_by",
    ),
    "starter: membership helper made SECURITY INVOKER": Defect(
        "saas_starter",
        "ALTER FUNCTION public.is_account_member(uuid) SECURITY INVOKER",
        "function.security",
        "public.is_account_member(account uuid)",
    ),
    "starter: EXECUTE granted to anon": Defect(
        "saas_starter",
        "GRANT EXECUTE ON FUNCTION public.is_account_owner(uuid) TO anon",
        "function.execute",
        "public.is_account_owner(account uuid)",
    ),
    "starter: TRUNCATE granted back": Defect(
        "saas_starter",
        "GRANT TRUNCATE ON public.accounts TO authenticated",
        "grant.extra",
        "public.accounts.grants to authenticated",
    ),
    "starter: enum value added": Defect(
        "saas_starter",
        "ALTER TYPE public.account_role ADD VALUE 'admin'",
        "enum.values",
        "public.account_role",
        Hazard.MANUAL,
        "rows holding a removed value fail the conversion",
    ),
    "starter: partial unique index dropped": Defect(
        "saas_starter",
        "DROP INDEX public.accounts_one_personal_per_user",
        "index.missing",
        "public.accounts.accounts_one_personal_per_user",
    ),
    # gis_app
    "gis: GiST index dropped": Defect(
        "gis_app", "DROP INDEX public.places_location_idx", "index.missing", "public.places.places_location_idx"
    ),
    "gis: GiST index's operator class changed": Defect(
        "gis_app",
        "DROP INDEX public.tracks_path_idx; CREATE INDEX tracks_path_idx ON public.tracks USING gist (path)",
        "index.columns",
        "public.tracks.tracks_path_idx",
    ),
    "gis: BRIN index made btree": Defect(
        "gis_app",
        "DROP INDEX public.check_ins_recorded_at_idx;"
        " CREATE INDEX check_ins_recorded_at_idx ON public.check_ins (recorded_at)",
        "index.method",
        "public.check_ins.check_ins_recorded_at_idx",
    ),
    "gis: SP-GiST index dropped": Defect(
        "gis_app",
        "DROP INDEX public.check_ins_position_idx",
        "index.missing",
        "public.check_ins.check_ins_position_idx",
    ),
    "gis: geography column's SRID changed": Defect(
        "gis_app",
        "ALTER TABLE public.check_ins ALTER COLUMN position TYPE extensions.geography(Point, 4269)"
        " USING extensions.st_setsrid(position::extensions.geometry, 4269)::extensions.geography",
        "column.type",
        "public.check_ins.position",
        Hazard.LONG_LOCK,
        "rewrites the table under an exclusive lock",
    ),
    "gis: SRID CHECK dropped": Defect(
        "gis_app",
        "ALTER TABLE public.tracks DROP CONSTRAINT tracks_path_srid",
        "check.missing",
        "public.tracks.tracks_path_srid",
    ),
    "gis: view using PostGIS dropped": Defect(
        "gis_app", "DROP VIEW public.place_pins", "view.missing", "public.place_pins"
    ),
    "gis: view loses its PostGIS operator": Defect(
        "gis_app",
        "CREATE OR REPLACE VIEW public.region_stats WITH (security_invoker = true) AS"
        " SELECT r.id, r.name, r.area_km2, count(p.id) AS places FROM public.regions r"
        " LEFT JOIN public.places p ON extensions.st_contains(r.boundary, p.location)"
        " GROUP BY r.id, r.name, r.area_km2",
        "view.definition",
        "public.region_stats",
    ),
    "gis: RPC function's default changed": Defect(
        "gis_app",
        "CREATE OR REPLACE FUNCTION public.nearby_places(lat float8, lng float8, radius_m float8 DEFAULT 5000)"
        " RETURNS TABLE (id uuid, name text, kind public.place_kind, distance_m float8)"
        " LANGUAGE sql STABLE SET search_path = '' AS $$ SELECT NULL::uuid, NULL::text, NULL::public.place_kind,"
        " NULL::float8 WHERE false $$",
        "function.arguments",
        "public.nearby_places(lat double precision, lng double precision, radius_m double precision)",
    ),
    "gis: function taking a PostGIS type dropped": Defect(
        "gis_app",
        "DROP FUNCTION public.places_in_area(extensions.geometry)",
        "function.missing",
        "public.places_in_area(area extensions.geometry)",
    ),
    "gis: policy dropped": Defect(
        "gis_app",
        'DROP POLICY "Public places are visible" ON public.places',
        "policy.missing",
        "public.places.Public places are visible",
    ),
    "gis: trigger deriving the geography dropped": Defect(
        "gis_app", "DROP TRIGGER places_derive ON public.places", "trigger.missing", "public.places.places_derive"
    ),
    "gis: USAGE on the extension's schema revoked": Defect(
        "gis_app",
        "REVOKE USAGE ON SCHEMA extensions FROM anon",
        "schema_grant.missing",
        "schema extensions grants to anon",
    ),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_fails_naming_the_object_and_repair_restores_it(
    defect: str,
    run_sql: Callable[[str], None],
    target: Target,
    tmp_path: Path,
) -> None:
    case = DEFECTS[defect]
    run_sql(schema_text(case.schema))
    path = snapshot(target, tmp_path)
    contract = load_contract(path)
    run_sql(case.statement)
    found = [(f.rule, f.object) for f in errors(check(target, contract))]
    assert found, "no error"
    assert found[0] == (case.rule, case.object), found
    code, output = check_cli(target, path)
    assert code == 1, output
    assert case.object in output, output
    reasons = repair(target, contract, case.held)
    if case.held is None:
        assert errors(check(target, contract)) == []
    else:
        assert case.reason, "a held fix needs the reason it is held"
        assert any(case.reason in reason for reason in reasons), reasons
        assert (case.rule, case.object) in [(f.rule, f.object) for f in errors(check(target, contract))]
