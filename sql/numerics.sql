-- Numerical stability of least squares against a high-precision reference.
--
-- The reference solves the normal equations in PostgreSQL's numeric type
-- with 90 decimal places, from data that float8 holds exactly, so it is
-- correct to far more digits than a double can hold.  aifactory's
-- streaming QR must agree to at least 7 significant digits even where the
-- design's condition number is around 1e15.
SET extra_float_digits = 3;

CREATE FUNCTION ref_lstsq(q text) RETURNS numeric[]
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    xs numeric[];
    p int;
    a numeric[];      -- p x (p+1) augmented normal equations, row-major
    piv int;
    f numeric;
    tmp numeric;
    beta numeric[];
BEGIN
    FOR r IN EXECUTE q LOOP
        -- first column y, then the regressors; prepend the intercept's 1
        xs := ARRAY[1::numeric] || r.x;
        IF a IS NULL THEN
            p := array_length(xs, 1);
            a := array_fill(0::numeric, ARRAY[p * (p + 1)]);
        END IF;
        FOR i IN 1..p LOOP
            FOR j IN 1..p LOOP
                a[(i - 1) * (p + 1) + j] := a[(i - 1) * (p + 1) + j] + xs[i] * xs[j];
            END LOOP;
            a[(i - 1) * (p + 1) + p + 1] := a[(i - 1) * (p + 1) + p + 1] + xs[i] * r.y;
        END LOOP;
    END LOOP;
    FOR k IN 1..p LOOP
        piv := k;
        FOR i IN k + 1..p LOOP
            IF abs(a[(i - 1) * (p + 1) + k]) > abs(a[(piv - 1) * (p + 1) + k]) THEN piv := i; END IF;
        END LOOP;
        IF piv <> k THEN
            FOR j IN 1..p + 1 LOOP
                tmp := a[(k - 1) * (p + 1) + j];
                a[(k - 1) * (p + 1) + j] := a[(piv - 1) * (p + 1) + j];
                a[(piv - 1) * (p + 1) + j] := tmp;
            END LOOP;
        END IF;
        FOR i IN k + 1..p LOOP
            f := round(a[(i - 1) * (p + 1) + k]::numeric(1000, 100) / a[(k - 1) * (p + 1) + k], 90);
            FOR j IN k..p + 1 LOOP
                a[(i - 1) * (p + 1) + j] := round(a[(i - 1) * (p + 1) + j] - f * a[(k - 1) * (p + 1) + j], 90);
            END LOOP;
        END LOOP;
    END LOOP;
    beta := array_fill(0::numeric, ARRAY[p]);
    FOR i IN REVERSE p..1 LOOP
        tmp := a[(i - 1) * (p + 1) + p + 1];
        FOR j IN i + 1..p LOOP
            tmp := tmp - a[(i - 1) * (p + 1) + j] * beta[j];
        END LOOP;
        beta[i] := round(tmp::numeric(1000, 100) / a[(i - 1) * (p + 1) + i], 90);
    END LOOP;
    RETURN beta;
END $$;

-- Correct significant digits of an estimate against the reference.
CREATE FUNCTION digits(est float8, ref numeric) RETURNS numeric
LANGUAGE sql AS $$
    SELECT CASE WHEN est::text::numeric = ref THEN 17
                ELSE round(-log(abs(est::text::numeric - ref) / abs(ref)), 1) END $$;

-- Exact powers x, x^2, ..., x^n in numeric.
CREATE FUNCTION powers(x numeric, n int) RETURNS numeric[]
LANGUAGE plpgsql AS $$
DECLARE
    r numeric[] := '{}';
    p numeric := 1;
BEGIN
    FOR k IN 1..n LOOP
        p := p * x;
        r := r || p;
    END LOOP;
    RETURN r;
END $$;

-- A Filip-like design: a degree-10 polynomial in x over the narrow range
-- [-8, -3] (condition number ~1e15).  x takes multiples of 1/4, whose
-- mantissas have at most 5 bits, so that every power up to x^10 is exact
-- in float8 and the reference sees exactly the data aifactory sees.  Each
-- x appears four times with deterministic noise; y is rounded to 1/1024.
CREATE TABLE filip AS
SELECT i, x AS xn, yn,
       x::float8 AS x1, (x ^ 2)::float8 AS x2, (x ^ 3)::float8 AS x3,
       (x ^ 4)::float8 AS x4, (x ^ 5)::float8 AS x5, (x ^ 6)::float8 AS x6,
       (x ^ 7)::float8 AS x7, (x ^ 8)::float8 AS x8, (x ^ 9)::float8 AS x9,
       (x ^ 10)::float8 AS x10, yn::float8 AS y
FROM (SELECT i, x,
             round((0.8 + 0.3 * x + 0.05 * x ^ 2 - 0.002 * x ^ 4 + 0.0000007 * x ^ 10
                    + ((i * 7919) % 101 - 50) / 5000.0) * 1024) / 1024 AS yn
      FROM (SELECT i, (-8 + (i / 4) / 4.0)::numeric AS x
            FROM generate_series(0, 83) i) s0) s;
SELECT * FROM aifactory.train('filip', 'SELECT x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, y FROM filip',
                              'y', 'linear', test_size => 0, deploy => 'none')
\gset train_
WITH ref AS (
    SELECT ref_lstsq('SELECT yn AS y, powers(xn, 10) AS x FROM filip') AS b
), ours AS (
    SELECT row_number() OVER () AS k, estimate FROM aifactory.coefficients('filip', 1)
)
SELECT min(digits(o.estimate, r.b[o.k])) >= 7 AS filip_7_digits,
       count(*) AS coefficients
FROM ours o, ref r;
-- it really is that ill-conditioned, and needed refinement passes
SELECT (m->>'condition_number')::float8 > 1e14 AS cond_above_1e14,
       (m->>'refinement_passes')::int > 0 AS refined
FROM (SELECT aifactory.model_info('filip', 1)->'metrics' AS m) s;

-- The linreg aggregate is the same streaming QR in a single pass, without
-- refinement passes: backward stable, so on this design it keeps fewer
-- digits (about 7), still far more than the normal equations (none).
WITH ref AS (
    SELECT ref_lstsq('SELECT yn AS y, powers(xn, 10) AS x FROM filip') AS b
), agg AS (
    SELECT aifactory.linreg(y, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10]) AS r FROM filip
)
SELECT min(digits((a.r).coef[k], ref.b[k])) >= 5 AS linreg_5_digits
FROM agg a, ref, generate_series(1, 11) k;

-- Highly collinear economic-style series: three trends that move together
-- up to tiny deviations, plus an independent one.
CREATE TABLE econ AS
SELECT t,
       (1000 + 3 * t)::float8 AS gnp,
       (1000 + 3 * t + ((t * 37) % 11 - 5) / 1024.0)::float8 AS gnp_deflated,
       (200 + 0.625 * t + ((t * 53) % 13 - 6) / 1024.0)::float8 AS population,
       (((t * 17) % 23) / 4.0)::float8 AS unemployment,
       (60000 + 2 * t + 0.5 * ((t * 29) % 7) + ((t * 31) % 17) / 8.0)::float8 AS employed
FROM generate_series(1, 40) t;

SELECT * FROM aifactory.train('econ', 'econ', 'employed', 'linear',
                              features => ARRAY['gnp', 'gnp_deflated', 'population', 'unemployment'],
                              test_size => 0, deploy => 'none')
\gset econ_
WITH ref AS (
    SELECT ref_lstsq('SELECT employed::numeric AS y, ARRAY[gnp, gnp_deflated, population, unemployment]::numeric[] AS x FROM econ') AS b
), ours AS (
    SELECT row_number() OVER () AS k, estimate FROM aifactory.coefficients('econ', 1)
)
SELECT min(digits(o.estimate, r.b[o.k])) >= 7 AS econ_7_digits FROM ours o, ref r;

-- Standard errors, t and p of a textbook case, to 6 decimals.
CREATE TABLE small (x float8, y float8);
INSERT INTO small VALUES (1, 1.1), (2, 1.9), (3, 3.2), (4, 3.9), (5, 5.1), (6, 5.8);
SELECT aifactory.train('small', 'small', 'y', 'linear', test_size => 0, deploy => 'none') IS NOT NULL AS trained;
SELECT feature, round(estimate::numeric, 6) AS estimate, round(std_error::numeric, 6) AS std_error,
       round(t_stat::numeric, 4) AS t_stat, round(p_value::numeric, 8) AS p_value
FROM aifactory.coefficients('small', 1);
SELECT round(((aifactory.model_info('small', 1))->'metrics'->>'train_r2')::numeric, 6) AS r2;

DROP TABLE filip, econ, small;
DROP FUNCTION ref_lstsq(text), digits(float8, numeric), powers(numeric, int);
