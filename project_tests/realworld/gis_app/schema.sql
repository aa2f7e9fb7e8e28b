-- A PostGIS application on Supabase, written for pgcontract's tests in the style of the public
-- location apps (not copied from any): regions drawn as multipolygons, places (points) people add and
-- share, check-ins recorded at a place, GPS tracks. PostGIS lives in the `extensions` schema, as Supabase
-- installs it, so every PostGIS type, function and operator is named by that schema; an RPC function
-- finds the places near a point.

CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA extensions;

CREATE TYPE public.place_kind AS ENUM ('cafe', 'park', 'museum', 'shop', 'viewpoint');

-- Reference data: the areas the app covers, with their surface derived from the boundary.
CREATE TABLE public.regions (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name     text NOT NULL UNIQUE,
  boundary extensions.geometry(MultiPolygon, 4326) NOT NULL,
  area_km2 double precision
    GENERATED ALWAYS AS (extensions.st_area(boundary::extensions.geography) / 1000000.0) STORED,
  CONSTRAINT regions_boundary_valid CHECK (extensions.st_isvalid(boundary))
);
CREATE INDEX regions_boundary_idx ON public.regions USING gist (boundary);

CREATE TABLE public.places (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id      uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  region_id     bigint REFERENCES public.regions (id) ON DELETE SET NULL,
  name          text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 120),
  kind          public.place_kind NOT NULL,
  location      extensions.geometry(Point, 4326) NOT NULL,
  -- The same point on the spheroid, for distances in metres; kept by places_derive.
  location_geog extensions.geography(Point, 4326) NOT NULL,
  is_public     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX places_location_idx ON public.places USING gist (location);
CREATE INDEX places_location_geog_idx ON public.places USING gist (location_geog);
CREATE INDEX places_owner_id_idx ON public.places (owner_id);
CREATE INDEX places_region_id_idx ON public.places (region_id);

-- Append-only: a BRIN index on the time they were recorded, an SP-GiST one on where.
CREATE TABLE public.check_ins (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  place_id    uuid NOT NULL REFERENCES public.places (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  position    extensions.geography(Point, 4326) NOT NULL,
  accuracy_m  real CHECK (accuracy_m >= 0),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX check_ins_recorded_at_idx ON public.check_ins USING brin (recorded_at);
CREATE INDEX check_ins_position_idx ON public.check_ins USING spgist (position);
CREATE INDEX check_ins_place_id_idx ON public.check_ins (place_id);
CREATE INDEX check_ins_user_id_idx ON public.check_ins (user_id);

-- An untyped geometry column held to its SRID and shape by CHECKs, as older PostGIS schemas do.
CREATE TABLE public.tracks (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  title    text NOT NULL,
  path     extensions.geometry NOT NULL,
  length_m double precision GENERATED ALWAYS AS (extensions.st_length(path::extensions.geography)) STORED,
  CONSTRAINT tracks_path_srid CHECK (extensions.st_srid(path) = 4326),
  CONSTRAINT tracks_path_line CHECK (extensions.geometrytype(path) = 'LINESTRING'),
  CONSTRAINT tracks_path_valid CHECK (extensions.st_isvalid(path))
);
CREATE INDEX tracks_path_idx ON public.tracks USING gist (path extensions.gist_geometry_ops_nd);
CREATE INDEX tracks_owner_id_idx ON public.tracks (owner_id);

-- updated_at, and the geography derived from the point, whatever the client sent.
CREATE FUNCTION public.places_derive() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  new.location_geog := new.location::extensions.geography;
  new.updated_at := now();
  RETURN new;
END
$$;

CREATE TRIGGER places_derive
  BEFORE INSERT OR UPDATE OF location, name, kind, is_public ON public.places
  FOR EACH ROW EXECUTE FUNCTION public.places_derive();

-- The public map: coordinates and GeoJSON for the client.
CREATE VIEW public.place_pins WITH (security_invoker = true) AS
  SELECT p.id, p.name, p.kind,
         extensions.st_y(p.location) AS lat,
         extensions.st_x(p.location) AS lng,
         extensions.st_asgeojson(p.location)::jsonb AS geojson
  FROM public.places p
  WHERE p.is_public;

-- How many places each region holds: the bounding-box operator first, then the exact test.
CREATE VIEW public.region_stats WITH (security_invoker = true) AS
  SELECT r.id, r.name, r.area_km2, count(p.id) AS places
  FROM public.regions r
  LEFT JOIN public.places p
    ON p.location OPERATOR(extensions.&&) r.boundary AND extensions.st_contains(r.boundary, p.location)
  GROUP BY r.id, r.name, r.area_km2;

-- RPC: the places within radius_m metres of a point, nearest first.
CREATE FUNCTION public.nearby_places(lat float8, lng float8, radius_m float8 DEFAULT 1000)
  RETURNS TABLE (id uuid, name text, kind public.place_kind, distance_m float8)
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  SELECT p.id, p.name, p.kind,
         extensions.st_distance(p.location_geog, here.g) AS distance_m
  FROM public.places p,
       LATERAL (SELECT extensions.st_setsrid(extensions.st_makepoint(lng, lat), 4326)::extensions.geography) AS here (g)
  WHERE extensions.st_dwithin(p.location_geog, here.g, radius_m)
  ORDER BY p.location_geog OPERATOR(extensions.<->) here.g
$$;

-- RPC: the places inside an area the client draws (a PostGIS type as the argument).
CREATE FUNCTION public.places_in_area(area extensions.geometry)
  RETURNS SETOF public.places
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  SELECT p.* FROM public.places p
  WHERE p.location OPERATOR(extensions.&&) area AND extensions.st_within(p.location, area)
$$;

ALTER TABLE public.regions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.places ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.check_ins ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tracks ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Anyone reads the regions" ON public.regions
  FOR SELECT TO anon, authenticated USING (true);

CREATE POLICY "Public places are visible" ON public.places
  FOR SELECT TO anon, authenticated USING (is_public OR owner_id = (SELECT auth.uid()));
CREATE POLICY "Owners add places" ON public.places
  FOR INSERT TO authenticated WITH CHECK (owner_id = (SELECT auth.uid()));
CREATE POLICY "Owners edit their places" ON public.places
  FOR UPDATE TO authenticated USING (owner_id = (SELECT auth.uid())) WITH CHECK (owner_id = (SELECT auth.uid()));
CREATE POLICY "Owners delete their places" ON public.places
  FOR DELETE TO authenticated USING (owner_id = (SELECT auth.uid()));

CREATE POLICY "Users check in at visible places" ON public.check_ins
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid())
              AND EXISTS (SELECT 1 FROM public.places p WHERE p.id = place_id));
CREATE POLICY "Users read their check-ins" ON public.check_ins
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));

CREATE POLICY "Owners manage their tracks" ON public.tracks
  FOR ALL TO authenticated USING (owner_id = (SELECT auth.uid())) WITH CHECK (owner_id = (SELECT auth.uid()));

-- RLS does not restrict TRUNCATE, REFERENCES or TRIGGER; Supabase's default privileges grant them to the
-- API roles on every new table. Regions are reference data: read only for the API roles.
REVOKE TRUNCATE, REFERENCES, TRIGGER
  ON public.regions, public.places, public.check_ins, public.tracks
  FROM anon, authenticated;
REVOKE INSERT, UPDATE, DELETE ON public.regions FROM anon, authenticated;
-- The API roles call PostGIS through the RPC functions and views; they need the schema.
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
REVOKE EXECUTE ON FUNCTION public.places_derive() FROM PUBLIC, anon, authenticated;
