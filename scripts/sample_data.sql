-- Sample data set for scripts/demo: 5,000 houses with a price that is a linear function of
-- their features plus Gaussian noise.  Generated with a fixed seed, so every run makes the
-- same rows (random() is only evaluated serially here: it is parallel-restricted).
--
--   price = 40000 + 120 * sqft + 9000 * bedrooms - 650 * age
--         + {downtown 60000, waterfront 110000, suburb 25000, rural 0}
--         + 14000 * has_garage + N(0, 20000^2)

SET client_min_messages = warning;
DROP TABLE IF EXISTS houses;

SELECT setseed(0.42);

CREATE TABLE houses (
	id           int PRIMARY KEY,
	sqft         float8 NOT NULL,
	bedrooms     int NOT NULL,
	age          int NOT NULL,
	neighborhood text NOT NULL,
	has_garage   bool NOT NULL,
	price        float8 NOT NULL
);

INSERT INTO houses (id, sqft, bedrooms, age, neighborhood, has_garage, price)
SELECT id, sqft, bedrooms, age, neighborhood, has_garage,
	round((40000 + 120 * sqft + 9000 * bedrooms - 650 * age
		+ CASE neighborhood
			WHEN 'downtown' THEN 60000
			WHEN 'waterfront' THEN 110000
			WHEN 'suburb' THEN 25000
			ELSE 0
		  END
		+ CASE WHEN has_garage THEN 14000 ELSE 0 END
		-- Box-Muller: a standard normal from two uniforms.
		+ 20000 * sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2))::numeric, 2)::float8
FROM (
	SELECT id, sqft,
		greatest(1, least(6, round(sqft / 700 + (random() - 0.5) * 2)::int)) AS bedrooms,
		age, neighborhood, has_garage, u1, u2
	FROM (
		SELECT g AS id,
			round((600 + 3400 * random() ^ 1.5)::numeric, 0)::float8 AS sqft,
			floor(random() * 100)::int AS age,
			(ARRAY['downtown', 'suburb', 'rural', 'waterfront'])[1 + floor(random() * 4)::int]
				AS neighborhood,
			random() < 0.6 AS has_garage,
			random() AS u1,
			random() AS u2
		FROM generate_series(1, 5000) AS g
		ORDER BY g
	) AS raw
	ORDER BY id
) AS h
ORDER BY id;

ANALYZE houses;

COMMENT ON TABLE houses IS 'aifactory demo: 5,000 synthetic houses (scripts/sample_data.sql)';
