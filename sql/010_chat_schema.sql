-- The chat schema of the incident (see ../shared/seed): two tables whose absence lost users' history.
-- Loaded into the throwaway database by `pgcontract check` / `pytest` when no DSN is given; the
-- Supabase auth shim (roles, auth.users, auth.uid()) is loaded before it by pgcontract itself.

CREATE TABLE public.sam_conversation_threads (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  user_id UUID REFERENCES auth.users(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  thread_type TEXT NOT NULL,
  prospect_name TEXT,
  prospect_company TEXT,
  prospect_linkedin_url TEXT,
  sales_methodology TEXT DEFAULT 'meddic',
  status TEXT DEFAULT 'active',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE TABLE public.sam_conversation_messages (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  thread_id UUID REFERENCES public.sam_conversation_threads(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  content TEXT NOT NULL,
  message_order INTEGER,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX idx_sam_threads_user_id ON public.sam_conversation_threads(user_id);
CREATE INDEX idx_sam_messages_thread_id ON public.sam_conversation_messages(thread_id);

ALTER TABLE public.sam_conversation_threads ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.sam_conversation_messages ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users access own threads" ON public.sam_conversation_threads
  FOR ALL USING (auth.uid() = user_id);

CREATE POLICY "Users access own messages" ON public.sam_conversation_messages
  FOR ALL USING (
    thread_id IN (
      SELECT id FROM public.sam_conversation_threads
      WHERE user_id = auth.uid()
    )
  );

-- Supabase's default privileges grant the API roles ALL on new tables. RLS does not restrict TRUNCATE
-- (it empties the table whatever the policies), REFERENCES or TRIGGER: grant only what RLS governs.
-- (REVOKE ALL, then GRANT: PostgreSQL 17 added MAINTAIN to ALL, which a list of names would miss.)
REVOKE ALL ON public.sam_conversation_threads, public.sam_conversation_messages FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.sam_conversation_threads, public.sam_conversation_messages TO anon, authenticated;
