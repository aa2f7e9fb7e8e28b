-- A ledger on plain PostgreSQL: the application connects as one role, ledger_app, and says which
-- tenant it serves with a transaction-local setting, app.tenant_id. The tables belong to ledger_app,
-- so FORCE ROW LEVEL SECURITY is what makes the policies apply to it.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_app') THEN
    CREATE ROLE ledger_app NOLOGIN;
  END IF;
END
$$;
GRANT ledger_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO ledger_app;

CREATE TABLE public.tenants (
  id uuid PRIMARY KEY,
  name text NOT NULL
);

CREATE TABLE public.accounts (
  tenant_id uuid NOT NULL REFERENCES public.tenants (id),
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- The tenant is part of the key an entry references: an entry cannot hang from another tenant's
-- account (a foreign key is checked without RLS).
CREATE TABLE public.entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL,
  account_id uuid NOT NULL,
  amount numeric(14,2) NOT NULL CHECK (amount <> 0),
  booked_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, account_id) REFERENCES public.accounts (tenant_id, id)
);
CREATE INDEX entries_tenant_account_idx ON public.entries (tenant_id, account_id);

ALTER TABLE public.tenants OWNER TO ledger_app;
ALTER TABLE public.accounts OWNER TO ledger_app;
ALTER TABLE public.entries OWNER TO ledger_app;

-- Only ledger_app works on these tables. On a server that also hosts Supabase's API roles, default
-- privileges granted them ALL at creation, TRUNCATE included, which RLS does not restrict: take it back.
DO $$
DECLARE
  api text;
BEGIN
  FOR api IN SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role') LOOP
    EXECUTE format('REVOKE ALL ON public.tenants, public.accounts, public.entries FROM %I', api);
  END LOOP;
END
$$;

ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE public.entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.entries FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_reads_itself ON public.tenants FOR SELECT TO ledger_app
  USING (id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
CREATE POLICY tenant_accounts ON public.accounts FOR ALL TO ledger_app
  USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
  WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
CREATE POLICY tenant_entries ON public.entries FOR ALL TO ledger_app
  USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
  WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
