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

-- Events for the feature store (scripts/demo, docs/tutorial-features.md): 500 customers'
-- orders and support tickets over 2024, and a spine of monthly churn labels.  A customer
-- churns more often with few recent orders and many recent tickets.
DROP TABLE IF EXISTS orders, tickets, churn_labels CASCADE;

CREATE TABLE orders (
	customer_id int NOT NULL,
	ordered_at  timestamptz NOT NULL,
	loaded_at   timestamptz NOT NULL,   -- when the row reached the database
	amount      float8 NOT NULL,
	items       int NOT NULL
);
INSERT INTO orders
SELECT c, t, t + (random() * 120)::int * interval '1 minute',
       round((20 + random() * 180)::numeric, 2)::float8, 1 + (random() * 5)::int
FROM (SELECT 1 + (random() * 499)::int AS c,
             '2024-01-01'::timestamptz + random() * interval '365 days' AS t
      FROM generate_series(1, 20000)) g;
CREATE INDEX orders_customer_time ON orders (customer_id, ordered_at, loaded_at);

CREATE TABLE tickets (
	customer_id int NOT NULL,
	opened_at   timestamptz NOT NULL,
	open_tickets int NOT NULL,          -- the customer's open tickets after this event
	severity    text NOT NULL
);
INSERT INTO tickets
SELECT 1 + (random() * 499)::int, '2024-01-01'::timestamptz + random() * interval '365 days',
       (random() * 4)::int, (ARRAY['low', 'medium', 'high'])[1 + (random() * 2)::int]
FROM generate_series(1, 4000);
CREATE INDEX tickets_customer_time ON tickets (customer_id, opened_at);

CREATE TABLE churn_labels AS
SELECT c AS customer_id, m AS as_of, false AS churned
FROM generate_series(1, 500) c,
     generate_series('2024-02-01'::timestamptz, '2024-12-01', interval '1 month') m;
-- the label: churned within the next month, more likely with few orders in the past month
-- and many open tickets
UPDATE churn_labels l SET churned = random() <
    0.6 - 0.08 * (SELECT count(*) FROM orders o WHERE o.customer_id = l.customer_id
                    AND o.ordered_at > l.as_of - interval '30 days' AND o.ordered_at <= l.as_of)
        + 0.1 * COALESCE((SELECT t.open_tickets FROM tickets t WHERE t.customer_id = l.customer_id
                    AND t.opened_at <= l.as_of ORDER BY t.opened_at DESC LIMIT 1), 0);
ANALYZE orders;
ANALYZE tickets;
ANALYZE churn_labels;
