-- A multi-tenant SaaS starter on Supabase, written for pgcontract's tests in the style of the public
-- starters (not copied from any): signing up creates a profile, a personal account and an owner
-- membership (an AFTER INSERT trigger on auth.users, SECURITY DEFINER); projects belong to accounts and
-- have a public slug derived from their name; tasks belong to projects. Who created a row is stamped
-- from auth.uid(), by a BEFORE INSERT trigger (projects) or a default (tasks).

CREATE TYPE public.account_role AS ENUM ('owner', 'member');

CREATE TABLE public.profiles (
  id           uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 80),
  avatar_url   text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.accounts (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
  is_personal   boolean NOT NULL DEFAULT false,
  primary_owner uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- One personal account per user.
CREATE UNIQUE INDEX accounts_one_personal_per_user ON public.accounts (primary_owner) WHERE is_personal;

CREATE TABLE public.account_members (
  account_id uuid NOT NULL REFERENCES public.accounts (id) ON DELETE CASCADE,
  user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  role       public.account_role NOT NULL DEFAULT 'member',
  invited_by uuid REFERENCES auth.users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, user_id)
);
CREATE INDEX account_members_user_id_idx ON public.account_members (user_id);

CREATE TABLE public.projects (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES public.accounts (id) ON DELETE CASCADE,
  name       text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 2 AND 60),
  -- The project's public address: unique across the service, spelled from its name.
  slug       text NOT NULL UNIQUE,
  created_by uuid NOT NULL REFERENCES auth.users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT projects_slug_from_name
    CHECK (slug = lower(regexp_replace(btrim(name), '[^A-Za-z0-9]+', '-', 'g')))
);
CREATE INDEX projects_account_id_idx ON public.projects (account_id);
CREATE INDEX projects_created_by_idx ON public.projects (created_by);

CREATE TABLE public.tasks (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  title      text NOT NULL,
  done       boolean NOT NULL DEFAULT false,
  created_by uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_project_id_idx ON public.tasks (project_id);
CREATE INDEX tasks_created_by_idx ON public.tasks (created_by);

-- Signing up: the profile, the personal account and its owner membership.
CREATE FUNCTION public.handle_new_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  handle text := coalesce(new.raw_user_meta_data ->> 'full_name', split_part(new.email, '@', 1));
  personal uuid;
BEGIN
  INSERT INTO public.profiles (id, display_name) VALUES (new.id, handle);
  INSERT INTO public.accounts (name, is_personal, primary_owner) VALUES (handle, true, new.id)
    RETURNING id INTO personal;
  INSERT INTO public.account_members (account_id, user_id, role) VALUES (personal, new.id, 'owner');
  RETURN new;
END
$$;

CREATE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- Who created a project is who is signed in, whatever the client sent.
CREATE FUNCTION public.stamp_created_by() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  new.created_by := auth.uid();
  RETURN new;
END
$$;

CREATE TRIGGER projects_stamp_created_by
  BEFORE INSERT ON public.projects
  FOR EACH ROW EXECUTE FUNCTION public.stamp_created_by();

-- Membership helpers for policies: SECURITY DEFINER so they read account_members without recursing
-- into its own policies.
CREATE FUNCTION public.is_account_member(account uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.account_members m WHERE m.account_id = account AND m.user_id = (SELECT auth.uid())
  )
$$;

CREATE FUNCTION public.is_account_owner(account uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.account_members m
    WHERE m.account_id = account AND m.user_id = (SELECT auth.uid()) AND m.role = 'owner'
  )
$$;

REVOKE EXECUTE ON FUNCTION public.handle_new_user() FROM PUBLIC, anon, authenticated;
REVOKE EXECUTE ON FUNCTION public.is_account_member(uuid), public.is_account_owner(uuid) FROM PUBLIC, anon;

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.account_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users read their profile" ON public.profiles
  FOR SELECT TO authenticated USING (id = (SELECT auth.uid()));
CREATE POLICY "Users edit their profile" ON public.profiles
  FOR UPDATE TO authenticated USING (id = (SELECT auth.uid())) WITH CHECK (id = (SELECT auth.uid()));

CREATE POLICY "Members read their accounts" ON public.accounts
  FOR SELECT TO authenticated USING (public.is_account_member(id));
CREATE POLICY "Owners rename their accounts" ON public.accounts
  FOR UPDATE TO authenticated USING (public.is_account_owner(id)) WITH CHECK (public.is_account_owner(id));

CREATE POLICY "Members see who else is a member" ON public.account_members
  FOR SELECT TO authenticated USING (public.is_account_member(account_id));

CREATE POLICY "Members work on their projects" ON public.projects
  FOR ALL TO authenticated
  USING (public.is_account_member(account_id)) WITH CHECK (public.is_account_member(account_id));

CREATE POLICY "Members work on their tasks" ON public.tasks
  FOR ALL TO authenticated
  USING (EXISTS (SELECT 1 FROM public.projects p WHERE p.id = project_id AND public.is_account_member(p.account_id)))
  WITH CHECK (EXISTS (SELECT 1 FROM public.projects p WHERE p.id = project_id AND public.is_account_member(p.account_id)));

-- RLS does not restrict TRUNCATE, REFERENCES or TRIGGER (lint rls_bypass_privileges); Supabase's default
-- privileges grant them to the API roles on every new table.
REVOKE TRUNCATE, REFERENCES, TRIGGER
  ON public.profiles, public.accounts, public.account_members, public.projects, public.tasks
  FROM anon, authenticated;
