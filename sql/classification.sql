-- Classification: logistic regression and Gaussian naive Bayes.
SELECT setseed(0.7);
-- three well-separated classes in two dimensions, labels as text
CREATE TABLE flowers AS
SELECT i, c,
       (ARRAY[1, 5, 9])[c] + random() AS petal, (ARRAY[2, 7, 3])[c] + random() AS sepal,
       (ARRAY['setosa', 'versicolor', 'virginica'])[c] AS species
FROM (SELECT i, 1 + i % 3 AS c FROM generate_series(1, 300) i) s;

-- multinomial logistic regression; a stratified split keeps 25 % of each class
SELECT project, version, algorithm, deployed,
       (metrics->>'accuracy')::float8 AS accuracy, (metrics->>'f1')::float8 AS f1,
       metrics->>'test_rows' AS test_rows, metrics ? 'roc_auc' AS has_auc
FROM aifactory.train('flowers', 'SELECT petal, sepal, species FROM flowers', 'species',
                     'logistic', seed => 1);
SELECT aifactory.model_info('flowers')->'classes' AS classes,
       aifactory.model_info('flowers')->'hyperparams' AS hyperparams;
-- one coefficient set per class, on the original scale of the features
SELECT class, count(*) AS coefficients FROM aifactory.coefficients('flowers') GROUP BY class ORDER BY class;

-- predict_class gives the label; predict_proba one probability per class
SELECT species, aifactory.predict_class('flowers', f) AS predicted,
       round((SELECT sum(p) FROM unnest(aifactory.predict_proba('flowers', f)) p)::numeric, 12) AS total
FROM (SELECT petal, sepal, species FROM flowers ORDER BY i LIMIT 3) f;
SELECT count(*) FILTER (WHERE aifactory.predict_class('flowers', f) = species) AS right,
       count(*) AS rows
FROM flowers f;
-- text labels have no numeric prediction
SELECT aifactory.predict('flowers', f) FROM flowers f LIMIT 1;

-- binary, boolean labels: predict() gives 0 or 1, and roc_auc and log_loss
SELECT version, (metrics->>'accuracy')::float8 > 0.95 AS accurate,
       (metrics->>'roc_auc')::float8 > 0.99 AS auc, (metrics->>'log_loss')::float8 < 0.2 AS log_loss
FROM aifactory.train('is_virginica', 'SELECT petal, sepal, species = ''virginica'' AS virginica FROM flowers',
                     'virginica', 'logistic', '{"C": 10}', seed => 2);
SELECT aifactory.predict('is_virginica', ARRAY[9.5, 3.5]) AS virginica,
       aifactory.predict('is_virginica', ARRAY[1.5, 2.5]) AS setosa,
       aifactory.predict_class('is_virginica', ARRAY[9.5, 3.5]) AS label;
-- binary coefficients are those of the second label (the positive class)
SELECT DISTINCT class FROM aifactory.coefficients('is_virginica');

-- integer labels, no intercept, a tiny C shrinks the coefficients to ~0
SELECT version FROM aifactory.train('flowers_int', 'SELECT petal, sepal, c FROM flowers', 'c', 'logistic',
                                    '{"C": 1e-6, "intercept": false}', seed => 3);
SELECT bool_and(abs(estimate) < 1e-3) AS shrunk, bool_and(feature <> 'intercept') AS no_intercept
FROM aifactory.coefficients('flowers_int');
SELECT aifactory.predict('flowers_int', ARRAY[5.5, 7.5]) IN (1, 2, 3) AS a_label;

-- Gaussian naive Bayes from its one-pass statistics
SELECT project, algorithm, (metrics->>'accuracy')::float8 AS accuracy
FROM aifactory.train('flowers_nb', 'SELECT petal, sepal, species FROM flowers', 'species',
                     'naive_bayes', seed => 1);
SELECT aifactory.predict_class('flowers_nb', ARRAY[9.4, 3.6]) AS virginica,
       aifactory.predict_class('flowers_nb', ARRAY[5.5, 7.5]) AS versicolor;
-- var_smoothing is scikit-learn's: a huge one flattens the probabilities
SELECT version FROM aifactory.train('flowers_nb', 'SELECT petal, sepal, species FROM flowers', 'species',
                                    'naive_bayes', '{"var_smoothing": 1000}', seed => 1, deploy => 'none');
SELECT max(p) < 0.5 AS flat
FROM unnest(aifactory.predict_proba('flowers_nb', 2, ARRAY[9.4, 3.6])) p;
SELECT aifactory.coefficients('flowers_nb');

-- categorical features are one-hot encoded for classifiers too
CREATE TABLE pets AS
SELECT i, (ARRAY['cat', 'dog'])[1 + i % 2] AS kind, (i % 5)::float8 AS age,
       CASE WHEN i % 2 = 0 THEN 'meow' ELSE 'woof' END AS sound
FROM generate_series(1, 200) i;
SELECT (metrics->>'accuracy')::float8 AS accuracy
FROM aifactory.train('pets', 'SELECT kind, age, sound FROM pets', 'sound', 'auto', seed => 4);
SELECT algorithm FROM aifactory.model_info('pets') AS m(info), LATERAL (SELECT info->>'algorithm' AS algorithm) a;
SELECT aifactory.predict_class('pets', r) FROM (SELECT 'dog'::text AS kind, 3.0::float8 AS age) r;

-- errors: a single class, a text target for regression, the wrong task
SELECT * FROM aifactory.train('one', 'SELECT petal, ''x''::text AS lab FROM flowers', 'lab', 'logistic');
SELECT * FROM aifactory.train('reg', 'SELECT petal, species FROM flowers', 'species', 'linear');
SELECT * FROM aifactory.train('flowers', 'SELECT petal, sepal FROM flowers', 'sepal', 'linear');
SELECT * FROM aifactory.train('flowers', 'SELECT petal, sepal, species FROM flowers', 'species',
                              'logistic', '{"C": 0}');
SELECT aifactory.predict_proba('houses_missing', ARRAY[1.0]);

-- export and import: the same predictions
SELECT aifactory.import_model('flowers_copy', aifactory.export_model('flowers')) AS version;
SELECT count(*) FILTER (WHERE aifactory.predict_proba('flowers', f) = aifactory.predict_proba('flowers_copy', 1, f)) AS same,
       count(*) AS rows
FROM (SELECT petal, sepal FROM flowers) f;

DROP TABLE flowers, pets;
