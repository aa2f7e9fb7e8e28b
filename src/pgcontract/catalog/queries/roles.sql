-- Roles (PostgreSQL's own pg_* roles left out): login, BYPASSRLS, superuser, and the roles granted to each.
SELECT r.rolname::text AS name,
       r.rolcanlogin AS login,
       r.rolbypassrls AS bypassrls,
       r.rolsuper AS superuser,
       ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of
FROM pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1
