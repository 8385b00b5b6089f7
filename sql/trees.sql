-- Tree ensembles: gradient boosting (gbdt) and random forests.
SELECT setseed(0.31);

-- a step function: one split at x = 0.5 recovers it
CREATE TABLE step AS
SELECT i, random() AS x, random() AS noise FROM generate_series(1, 2000) i;
ALTER TABLE step ADD COLUMN y float8;
UPDATE step SET y = CASE WHEN x < 0.5 THEN 1 ELSE 3 END;

SELECT project, algorithm, deployed, (metrics->>'r2')::float8 > 0.99 AS fits,
       metrics->>'n_trees' AS n_trees
FROM aifactory.train('step', 'SELECT x, noise, y FROM step', 'y', 'gbdt',
                     '{"max_depth": 1, "n_estimators": 40}', seed => 1);
-- XGBoost's names and defaults, and the objective chosen from the numeric target
SELECT aifactory.model_info('step')->'hyperparams' AS hyperparams;
SELECT round(aifactory.predict('step', ARRAY[0.2, 0.5])::numeric, 3) AS low,
       round(aifactory.predict('step', ARRAY[0.8, 0.5])::numeric, 3) AS high;
-- nearly all the gain is x's (noise only splits the few rows of the bin around 0.5)
SELECT feature, gain / sum(gain) OVER () > 0.99 AS most FROM aifactory.feature_importance('step');

-- XOR needs depth 2: no single feature separates the classes
CREATE TABLE xor AS
SELECT a, b, (a::int # b::int) = 1 AS label,
       a::int + 0.2 * (random() - 0.5) AS xa, b::int + 0.2 * (random() - 0.5) AS xb
FROM (SELECT random() < 0.5 AS a, random() < 0.5 AS b FROM generate_series(1, 2000)) s;
SELECT (metrics->>'accuracy')::float8 AS accuracy, metrics ? 'roc_auc' AS has_auc
FROM aifactory.train('xor', 'SELECT xa, xb, label FROM xor', 'label', 'gbdt',
                     '{"max_depth": 2, "n_estimators": 20}', seed => 2);
SELECT aifactory.model_info('xor')->'hyperparams'->>'objective' AS objective;
SELECT aifactory.predict('xor', ARRAY[0.0, 1.0]) AS one, aifactory.predict('xor', ARRAY[1.0, 1.0]) AS zero,
       aifactory.predict_class('xor', ARRAY[1.0, 0.0]) AS label;

-- missing values carry signal: NULL x means class 1, and the trees learn to send
-- missing values to that side (the default direction), no imputation
CREATE TABLE miss AS
SELECT i, CASE WHEN c = 1 THEN NULL ELSE random() END AS x, random() AS z, c
FROM (SELECT i, (random() < 0.3)::int AS c FROM generate_series(1, 3000) i) s;
UPDATE miss SET x = 0.5 + random() * 0.1 WHERE c = 1 AND i % 10 = 0;
SELECT (metrics->>'accuracy')::float8 > 0.95 AS accurate,
       aifactory.model_info('miss')->'hyperparams'->>'impute' AS impute
FROM aifactory.train('miss', 'SELECT x, z, c FROM miss', 'c', 'gbdt',
                     '{"objective": "binary:logistic"}', seed => 3);
SELECT aifactory.predict('miss', ARRAY[NULL, 0.5]::float8[]) AS null_x,
       aifactory.predict('miss', ARRAY[0.2, 0.5]) AS low_x,
       aifactory.predict('miss', m) AS row_form
FROM (SELECT NULL::float8 AS x, 0.5::float8 AS z) m;

-- multiclass with text labels and a categorical feature (one-hot)
CREATE TABLE shop AS
SELECT i, c, (ARRAY[1, 5, 9])[c] + 2 * random() AS spend,
       (ARRAY['web', 'store', 'phone'])[1 + (c + (random() < 0.1)::int) % 3] AS channel,
       (ARRAY['bronze', 'silver', 'gold'])[c] AS tier
FROM (SELECT i, 1 + i % 3 AS c FROM generate_series(1, 1500) i) s;
SELECT (metrics->>'accuracy')::float8 > 0.95 AS accurate, metrics ? 'roc_auc' AS has_auc
FROM aifactory.train('shop', 'SELECT spend, channel, tier FROM shop', 'tier', 'gbdt',
                     '{"n_estimators": 30}', seed => 4);
SELECT aifactory.model_info('shop')->'hyperparams'->>'objective' AS objective,
       aifactory.model_info('shop')->'classes' AS classes,
       aifactory.model_info('shop')->'trees' AS trees;
SELECT tier, aifactory.predict_class('shop', s) AS predicted,
       round((SELECT sum(p) FROM unnest(aifactory.predict_proba('shop', s)) p)::numeric, 12) AS total
FROM (SELECT spend, channel, tier FROM shop ORDER BY i LIMIT 3) s;
SELECT count(*) FILTER (WHERE aifactory.predict_class('shop', s) = tier)::float8 / count(*) > 0.95 AS right
FROM shop s;

-- random forests: classification by Gini, regression by squared error
SELECT algorithm, (metrics->>'accuracy')::float8 > 0.95 AS accurate, metrics->>'n_trees' AS n_trees
FROM aifactory.train('shop_rf', 'SELECT spend, channel, tier FROM shop', 'tier', 'random_forest',
                     '{"n_estimators": 25}', seed => 5);
SELECT aifactory.model_info('shop_rf')->'hyperparams' AS hyperparams;
-- categorical features need the row form
SELECT aifactory.predict_class('shop_rf', ARRAY[1.5, 1, 0, 0]);
SELECT aifactory.predict_class('shop_rf', s) AS predicted
FROM (SELECT 9.5::float8 AS spend, 'phone'::text AS channel) s;
SELECT (metrics->>'r2')::float8 > 0.99 AS fits
FROM aifactory.train('step_rf', 'SELECT x, noise, y FROM step', 'y', 'random_forest',
                     '{"n_estimators": 10, "max_depth": 4}', seed => 6);
SELECT aifactory.model_info('step_rf')->'hyperparams'->>'max_features' AS max_features,
       round(aifactory.predict('step_rf', ARRAY[0.2, 0.5])::numeric, 3) AS low;

-- explanations: TreeSHAP contributions and the expected value add up to the raw output
SELECT round(sum(contribution)::numeric, 9) = round(aifactory.predict('step', ARRAY[0.3, 0.9])::numeric, 9) AS adds_up,
       count(*) AS rows
FROM aifactory.explain('step', ARRAY[0.3, 0.9]);
SELECT feature, abs(contribution) > 1e-9 AS nonzero, class
FROM aifactory.explain('step', ARRAY[0.3, 0.9]) ORDER BY feature;
-- binary gbdt: contributions to the log-odds of the positive class
SELECT round(sum(contribution)::numeric, 9) =
       round(ln(p[2] / p[1])::numeric, 9) AS log_odds, min(class) AS class
FROM aifactory.explain('xor', ARRAY[0.1, 0.9]),
     LATERAL (SELECT aifactory.predict_proba('xor', ARRAY[0.1, 0.9]) AS p) q
GROUP BY p;
-- multiclass: one set per class; a forest's contributions sum to its probabilities
SELECT e.class, count(*) AS rows
FROM (SELECT 5.5::float8 AS spend, 'store'::text AS channel) s, aifactory.explain('shop', s) e
GROUP BY e.class ORDER BY e.class;
SELECT bool_and(abs(e.total - q.p) < 1e-9) AS probabilities, count(*) AS classes
FROM (SELECT 5.5::float8 AS spend, 'store'::text AS channel) s
CROSS JOIN LATERAL (SELECT class, sum(contribution) AS total
                    FROM aifactory.explain('shop_rf', s) GROUP BY class) e
JOIN LATERAL unnest(aifactory.predict_proba('shop_rf', s),
                    ARRAY['bronze', 'gold', 'silver']) AS q(p, class) ON q.class = e.class;

-- export -> import -> the same predictions
SELECT aifactory.import_model('shop_copy', aifactory.export_model('shop')) AS version;
SELECT count(*) FILTER (WHERE aifactory.predict_proba('shop_copy', 1, s) = aifactory.predict_proba('shop', s)) AS same,
       count(*) AS rows
FROM (SELECT spend, channel FROM shop) s;
SELECT aifactory.import_model('miss_copy', aifactory.export_model('miss')) AS version;
SELECT aifactory.predict('miss_copy', 1, ARRAY[NULL, 0.5]::float8[]) AS null_x;

-- early stopping on a validation share of the training rows keeps the best round
SELECT (metrics->>'n_rounds')::int < 500 AS stopped, metrics ? 'best_validation_loss' AS has_loss,
       (metrics->>'n_rounds')::int = (metrics->>'best_round')::int AS kept_best
FROM aifactory.train('step_es', 'SELECT x, noise, y FROM step', 'y', 'gbdt',
                     '{"n_estimators": 500, "early_stopping_rounds": 5, "learning_rate": 0.5}', seed => 7);

-- a tree model's project keeps its task: classification here
SELECT algorithm FROM aifactory.train('shop', 'SELECT spend, channel, tier FROM shop', 'tier', 'random_forest',
                                      '{"n_estimators": 5}', seed => 8, deploy => 'none');
-- explain and feature_importance are for trees
SELECT version FROM aifactory.train('step_lin', 'SELECT x, noise, y FROM step', 'y', 'linear', seed => 1);
SELECT * FROM aifactory.explain('step_lin', ARRAY[0.1, 0.2]);
SELECT * FROM aifactory.feature_importance('step_lin');
