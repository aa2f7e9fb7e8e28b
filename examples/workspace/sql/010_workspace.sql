-- A workspace (Supabase): users reach organisations through memberships; projects belong to an
-- organisation, documents to a project. Policies call a SECURITY DEFINER helper, is_member().

CREATE TYPE public.member_role AS ENUM ('owner', 'admin', 'member');

CREATE TABLE public.organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.memberships (
  org_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  role public.member_role NOT NULL DEFAULT 'member',
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON public.memberships (user_id);

CREATE TABLE public.projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  name text NOT NULL
);
CREATE INDEX projects_org_id_idx ON public.projects (org_id);

CREATE TABLE public.documents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  title text NOT NULL,
  body text NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_project_id_idx ON public.documents (project_id);

-- SECURITY DEFINER so that policies can consult memberships without recursing into its own RLS;
-- a fixed, empty search_path so that callers cannot redirect what it resolves.
CREATE FUNCTION public.is_member(org uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.memberships m WHERE m.org_id = org AND m.user_id = (SELECT auth.uid())
  )
$$;
REVOKE EXECUTE ON FUNCTION public.is_member(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.is_member(uuid) TO authenticated;

ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Members read their organizations" ON public.organizations
  FOR SELECT TO authenticated USING (public.is_member(id));
CREATE POLICY "Members rename their organizations" ON public.organizations
  FOR UPDATE TO authenticated USING (public.is_member(id)) WITH CHECK (public.is_member(id));

CREATE POLICY "Members see the memberships of their organizations" ON public.memberships
  FOR SELECT TO authenticated USING (public.is_member(org_id));

CREATE POLICY "Members work on their projects" ON public.projects
  FOR ALL TO authenticated USING (public.is_member(org_id)) WITH CHECK (public.is_member(org_id));

CREATE POLICY "Members work on their documents" ON public.documents
  FOR ALL TO authenticated
  USING (EXISTS (SELECT 1 FROM public.projects p WHERE p.id = project_id AND public.is_member(p.org_id)))
  WITH CHECK (EXISTS (SELECT 1 FROM public.projects p WHERE p.id = project_id AND public.is_member(p.org_id)));

-- Supabase's default privileges grant the API roles ALL on new tables. RLS does not restrict TRUNCATE
-- (it empties the table whatever the policies), REFERENCES or TRIGGER: grant only what RLS governs.
-- (REVOKE ALL, then GRANT: PostgreSQL 17 added MAINTAIN to ALL, which a list of names would miss.)
REVOKE ALL ON public.organizations, public.memberships, public.projects, public.documents FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.organizations, public.memberships, public.projects, public.documents TO anon, authenticated;
