-- Clustering (k-means) and decomposition (PCA): no target.
SELECT setseed(0.11);
CREATE TABLE blobs AS
SELECT i, g, (ARRAY[0, 10, 0])[g] + random() AS x, (ARRAY[0, 0, 10])[g] + random() AS y
FROM (SELECT i, 1 + i % 3 AS g FROM generate_series(1, 600) i) s;

SELECT project, version, algorithm, (metrics->>'silhouette')::float8 > 0.8 AS well_separated,
       metrics->'cluster_sizes' AS sizes, metrics->>'evaluated_on' AS evaluated_on
FROM aifactory.train('blobs', 'SELECT x, y FROM blobs', NULL, 'kmeans', '{"n_clusters": 3}', seed => 1);
-- each planted group is one cluster, and the three are distinct
SELECT count(DISTINCT g) AS groups, count(DISTINCT cluster) AS clusters,
       bool_and(n = 1) AS one_cluster_per_group
FROM (SELECT g, min(aifactory.predict('blobs', b)) AS cluster,
             count(DISTINCT aifactory.predict('blobs', b)) AS n
      FROM (SELECT g, x, y FROM blobs) b GROUP BY g) s;
-- transform gives the distance to each center
SELECT array_length(aifactory.transform('blobs', ARRAY[0.5, 0.5]), 1) AS centers,
       round((SELECT min(d) FROM unnest(aifactory.transform('blobs', ARRAY[0.5, 0.5])) d)::numeric, 0) AS nearest;
SELECT aifactory.model_info('blobs')->'clusters' AS clusters,
       aifactory.model_info('blobs')->'hyperparams' AS hyperparams;
-- the same seed, the same clustering
SELECT a.metrics->'inertia' = b.metrics->'inertia' AS reproducible
FROM aifactory.train('blobs', 'SELECT x, y FROM blobs', NULL, 'kmeans', '{"n_clusters": 3}', seed => 7, deploy => 'none') a,
     aifactory.train('blobs', 'SELECT x, y FROM blobs', NULL, 'kmeans', '{"n_clusters": 3}', seed => 7, deploy => 'none') b;
-- auto with no target clusters
SELECT algorithm FROM aifactory.train('blobs_auto', 'SELECT x, y FROM blobs', NULL, seed => 1);

-- PCA: a cloud stretched along the diagonal
CREATE TABLE cloud AS
SELECT t + 0.1 * random() AS u, t + 0.1 * random() AS v, 0.1 * random() AS w
FROM (SELECT random() * 10 AS t FROM generate_series(1, 500)) s;
SELECT version, metrics->'n_components' AS n, round((metrics->>'explained_variance')::numeric, 6) AS kept,
       (metrics->'explained_variance_ratio'->>0)::float8 > 0.99 AS first_dominates
FROM aifactory.train('cloud', 'cloud', NULL, 'pca', seed => 1);
SELECT version, metrics->'n_components' AS n
FROM aifactory.train('cloud', 'cloud', NULL, 'pca', '{"n_components": 1}', seed => 1);
-- the first component is the diagonal: (1, 1, 0) / sqrt(2), up to sign
SELECT round(abs((aifactory.transform('cloud', ARRAY[1.0, 1.0, 0.0]))[1]
                 - (aifactory.transform('cloud', ARRAY[0.0, 0.0, 0.0]))[1])::numeric, 2) AS length_of_diagonal_step;
-- standardized PCA
SELECT version, round((metrics->>'explained_variance')::numeric, 3) AS kept,
       aifactory.model_info('cloud', 3)->'features'->0 ? 'scale' AS standardized
FROM aifactory.train('cloud', 'cloud', NULL, 'pca', '{"standardize": true, "n_components": 2}', seed => 1);

-- errors: more clusters than rows, more components than columns, a target given,
-- predict with PCA, classification functions on a clustering
SELECT * FROM aifactory.train('tiny', 'SELECT x, y FROM blobs LIMIT 2', NULL, 'kmeans', '{"n_clusters": 3}');
SELECT * FROM aifactory.train('cloud', 'cloud', NULL, 'pca', '{"n_components": 4}');
SELECT * FROM aifactory.train('cloud2', 'cloud', 'u', 'pca');
SELECT * FROM aifactory.train('cloud3', 'cloud', NULL, 'linear');
SELECT aifactory.predict('cloud', ARRAY[1.0, 1.0, 0.0]);
SELECT aifactory.predict_class('blobs', ARRAY[1.0, 1.0]);
SELECT aifactory.transform('blobs', ARRAY[1.0]);

DROP TABLE blobs, cloud;
