-- aifactory 0.1.0: a machine-learning factory inside PostgreSQL.
--
-- Sections: tables, types, functions (registry, training, prediction,
-- aggregates), views, grants.  Every call is schema-qualified so the
-- script and the functions are safe under any search_path.

\echo Use "CREATE EXTENSION aifactory" to load this file. \quit

---------------------------------------------------------------------------
-- Tables: the registry.  User data, so pg_dump keeps it
-- (pg_extension_config_dump below).  Written only through the functions,
-- which check project ownership; readable by everyone for BI tools.
---------------------------------------------------------------------------

CREATE TABLE @extschema@.projects (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (pg_catalog.length(name) >= 1 AND pg_catalog.length(name) <= 63),
    task        text NOT NULL
                CHECK (task IN ('regression', 'classification', 'clustering', 'decomposition')),
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.projects IS 'One row per project: a named prediction problem whose models are versioned together.';

CREATE TABLE @extschema@.models (
    id          bigserial PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES @extschema@.projects (id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version > 0),
    algorithm   text NOT NULL,
    hyperparams jsonb NOT NULL DEFAULT '{}',
    metrics     jsonb NOT NULL DEFAULT '{}',
    features    jsonb NOT NULL DEFAULT '[]',
    baseline    bytea,
    source      text,
    target      text,
    train_rows  bigint,
    status      text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'dropped')),
    created_by  text NOT NULL DEFAULT CURRENT_USER,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    fit_seconds double precision,
    model       bytea,
    lineage     jsonb,
    UNIQUE (project_id, version),
    CHECK ((status = 'ready') = (model IS NOT NULL))
);
COMMENT ON TABLE @extschema@.models IS 'Every trained model version; a stored model is immutable (drop_model only removes its bytes).';
-- A baseline is mostly hashed sample entries (16 bytes each, ~2.6 MB for 20 features), which
-- pglz cannot shrink by the 25 % it requires: trying cost train() ~30 ms for nothing.
ALTER TABLE @extschema@.models ALTER COLUMN baseline SET STORAGE EXTERNAL;

CREATE TABLE @extschema@.deployments (
    id          bigserial PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES @extschema@.projects (id) ON DELETE CASCADE,
    model_id    bigint NOT NULL REFERENCES @extschema@.models (id),
    alias       text NOT NULL DEFAULT 'production',
    weight      double precision NOT NULL DEFAULT 1.0 CHECK (weight >= 0 AND weight <= 1),
    strategy    text NOT NULL,
    deployed_by text NOT NULL DEFAULT CURRENT_USER,
    deployed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX deployments_project_alias_idx
    ON @extschema@.deployments (project_id, alias, id);
COMMENT ON TABLE @extschema@.deployments IS 'Deployment history; the current deployment of an alias is its latest row.';

CREATE TABLE @extschema@.audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    role        text NOT NULL DEFAULT CURRENT_USER,
    action      text NOT NULL,
    project     text,
    version     integer,
    detail      jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE @extschema@.audit_log IS 'Append-only log of every state-changing call.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.projects', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.projects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.models', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.deployments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_id_seq', '');

-- Hyperparameter searches: one row per trial of every tune() call, written
-- by the trial workers in their own transactions (so a search can be
-- watched while it runs) as the extension's owner.
CREATE SEQUENCE @extschema@.trials_search_id_seq;
CREATE TABLE @extschema@.trials (
    search_id   bigint NOT NULL,
    project     text NOT NULL,
    trial       integer NOT NULL,
    algorithm   text NOT NULL,
    strategy    text NOT NULL,
    metric      text NOT NULL,
    params      jsonb NOT NULL,
    rung        integer NOT NULL DEFAULT 0,
    resource    integer,
    fold_scores double precision[],
    mean_score  double precision,
    std_score   double precision,
    state       text NOT NULL
                CHECK (state IN ('running', 'complete', 'pruned', 'failed')),
    seconds     double precision,
    worker      integer,
    error       text,
    started     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished    timestamptz,
    PRIMARY KEY (search_id, trial)
);
COMMENT ON TABLE @extschema@.trials IS 'One row per trial of a hyperparameter search (tune): its hyperparameters, cross-validation fold scores, mean and standard deviation, state, time and worker.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.trials', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.trials_search_id_seq', '');

-- A change to deployments invalidates every backend's project -> model
-- cache when (and only when) the change commits.
CREATE FUNCTION @extschema@._deployments_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aifactory_relation_changed';
COMMENT ON FUNCTION @extschema@._deployments_changed() IS 'Internal: invalidates cached deployments at commit.';

CREATE TRIGGER deployments_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._deployments_changed();

---------------------------------------------------------------------------
-- Types
---------------------------------------------------------------------------

CREATE TYPE @extschema@.linreg_result AS (
    coef        double precision[],
    std_err     double precision[],
    t_stats     double precision[],
    p_values    double precision[],
    r2          double precision,
    num_rows    bigint
);
COMMENT ON TYPE @extschema@.linreg_result IS 'Result of the linreg aggregate; element 1 of each array is the intercept.';

---------------------------------------------------------------------------
-- Functions: registry
---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.deploy(project text, version integer)
    RETURNS TABLE (project text, version integer, algorithm text, strategy text)
    LANGUAGE C STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_deploy_version';
COMMENT ON FUNCTION @extschema@.deploy(text, integer) IS 'Deploy a model version of a project.';

CREATE FUNCTION @extschema@.deploy(project text, strategy text)
    RETURNS TABLE (project text, version integer, algorithm text, strategy text)
    LANGUAGE C STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_deploy_strategy';
COMMENT ON FUNCTION @extschema@.deploy(text, text) IS 'Deploy by strategy: best (by the key metric), latest, or rollback.';

CREATE FUNCTION @extschema@.rollback(project text)
    RETURNS TABLE (project text, version integer, algorithm text, strategy text)
    LANGUAGE C STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_rollback';
COMMENT ON FUNCTION @extschema@.rollback(text) IS 'Return to the version that was deployed before the current one.';

CREATE FUNCTION @extschema@.drop_model(project text, version integer)
    RETURNS void
    LANGUAGE C STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_drop_model';
COMMENT ON FUNCTION @extschema@.drop_model(text, integer) IS 'Remove a model version''s bytes; its registry row and number remain.';

CREATE FUNCTION @extschema@.model_info(project text, version integer DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'aifactory_model_info';
COMMENT ON FUNCTION @extschema@.model_info(text, integer) IS 'Algorithm, hyperparameters, features, preprocessing and metrics of a version (default: deployed).';

CREATE FUNCTION @extschema@.drift(project text, source text, version integer DEFAULT NULL,
                                  methods jsonb DEFAULT '{}', thresholds jsonb DEFAULT '{}')
    RETURNS TABLE (feature text, kind text, method text, statistic double precision,
                   p_value double precision, threshold double precision, drifted boolean,
                   psi double precision)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_drift';
COMMENT ON FUNCTION @extschema@.drift(text, text, integer, jsonb, jsonb) IS 'Drift of a source against a version''s training baseline (default: deployed): per feature, for the predictions, and the dataset verdict.';

CREATE FUNCTION @extschema@.coefficients(project text, version integer DEFAULT NULL)
    RETURNS TABLE (feature text, estimate double precision, std_error double precision,
                   t_stat double precision, p_value double precision, class text)
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'aifactory_coefficients';
COMMENT ON FUNCTION @extschema@.coefficients(text, integer) IS 'Coefficients of a linear, ridge, elastic_net or logistic model on the original feature scale; standard errors, t and p for linear; class for logistic.';

CREATE FUNCTION @extschema@.feature_importance(project text, version integer DEFAULT NULL)
    RETURNS TABLE (feature text, gain double precision)
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'aifactory_feature_importance';
COMMENT ON FUNCTION @extschema@.feature_importance(text, integer) IS 'Total split gain per design column of a gbdt or random_forest model (default: deployed), largest first.';

CREATE FUNCTION @extschema@.export_model(project text, version integer DEFAULT NULL)
    RETURNS bytea
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'aifactory_export_model';
COMMENT ON FUNCTION @extschema@.export_model(text, integer) IS 'A self-contained, checksummed copy of a model version (default: deployed).';

CREATE FUNCTION @extschema@.import_model(project text, data bytea)
    RETURNS integer
    LANGUAGE C STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_import_model';
COMMENT ON FUNCTION @extschema@.import_model(text, bytea) IS 'Register an exported model as the next version of a project; returns the version.';

---------------------------------------------------------------------------
-- Functions: training
---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.train(
        project     text,
        source      text,
        target      text,
        algorithm   text DEFAULT 'auto',
        hyperparams jsonb DEFAULT '{}',
        features    text[] DEFAULT NULL,
        test_size   double precision DEFAULT 0.25,
        seed        integer DEFAULT NULL,
        deploy      text DEFAULT 'best')
    RETURNS TABLE (project text, version integer, algorithm text, metrics jsonb, deployed boolean)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_train';
COMMENT ON FUNCTION @extschema@.train(text, text, text, text, jsonb, text[], double precision, integer, text) IS
    'Train a model (linear, ridge, elastic_net, logistic, naive_bayes, gbdt, random_forest, kmeans, pca or auto) on a table, view or SELECT, register it as the next version and deploy it per the deploy strategy (best, latest, none); target is NULL for kmeans and pca.';

CREATE FUNCTION @extschema@.tune(
        project      text,
        source       text,
        target       text,
        algorithm    text,
        search_space jsonb,
        strategy     text DEFAULT 'random',
        trials       integer DEFAULT 20,
        folds        integer DEFAULT 5,
        metric       text DEFAULT NULL,
        workers      integer DEFAULT NULL,
        test_size    double precision DEFAULT 0.25,
        seed         integer DEFAULT NULL,
        deploy       text DEFAULT 'best',
        hyperparams  jsonb DEFAULT '{}')
    RETURNS TABLE (project text, version integer, algorithm text, metrics jsonb, deployed boolean,
                   best_params jsonb)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_tune';
COMMENT ON FUNCTION @extschema@.tune(text, text, text, text, jsonb, text, integer, integer, text, integer, double precision, integer, text, jsonb) IS
    'Search hyperparameters (grid, random, tpe or halving) by k-fold cross-validation on the training split, trials in parallel background workers (trials table), then train the best configuration on the whole training split and register and deploy it like train().';

---------------------------------------------------------------------------
-- Functions: prediction.  STABLE (the deployed model may change between
-- statements), PARALLEL SAFE; the model is resolved once per statement.
---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.predict(project text, features double precision[])
    RETURNS double precision
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_array';
COMMENT ON FUNCTION @extschema@.predict(text, double precision[]) IS 'Predict with the deployed model from numeric features in training order: the value (regression), the label as a number (classification), the cluster (k-means).';

CREATE FUNCTION @extschema@.predict(project text, version integer, features double precision[])
    RETURNS double precision
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_version_array';
COMMENT ON FUNCTION @extschema@.predict(text, integer, double precision[]) IS 'Predict with a given model version from numeric features in training order.';

CREATE FUNCTION @extschema@.predict(project text, "row" record)
    RETURNS double precision
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_row';
COMMENT ON FUNCTION @extschema@.predict(text, record) IS 'Predict with the deployed model from a row whose columns are matched to features by name.';

CREATE FUNCTION @extschema@.predict(project text, version integer, "row" record)
    RETURNS double precision
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_version_row';
COMMENT ON FUNCTION @extschema@.predict(text, integer, record) IS 'Predict with a given model version from a row matched by column name.';

CREATE FUNCTION @extschema@.predict_proba(project text, features double precision[])
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_proba_array';
COMMENT ON FUNCTION @extschema@.predict_proba(text, double precision[]) IS 'With the deployed model: the class probabilities, in the order of the labels (model_info()->''classes''); numeric features in training order.';

CREATE FUNCTION @extschema@.predict_proba(project text, version integer, features double precision[])
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_proba_version_array';
COMMENT ON FUNCTION @extschema@.predict_proba(text, integer, double precision[]) IS 'With a given version: the class probabilities, in the order of the labels (model_info()->''classes''); numeric features in training order.';

CREATE FUNCTION @extschema@.predict_proba(project text, "row" record)
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_proba_row';
COMMENT ON FUNCTION @extschema@.predict_proba(text, record) IS 'With the deployed model: the class probabilities, in the order of the labels (model_info()->''classes''); a row matched by column name.';

CREATE FUNCTION @extschema@.predict_proba(project text, version integer, "row" record)
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_proba_version_row';
COMMENT ON FUNCTION @extschema@.predict_proba(text, integer, record) IS 'With a given version: the class probabilities, in the order of the labels (model_info()->''classes''); a row matched by column name.';

CREATE FUNCTION @extschema@.predict_class(project text, features double precision[])
    RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_class_array';
COMMENT ON FUNCTION @extschema@.predict_class(text, double precision[]) IS 'With the deployed model: the predicted class label, as text; numeric features in training order.';

CREATE FUNCTION @extschema@.predict_class(project text, version integer, features double precision[])
    RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_class_version_array';
COMMENT ON FUNCTION @extschema@.predict_class(text, integer, double precision[]) IS 'With a given version: the predicted class label, as text; numeric features in training order.';

CREATE FUNCTION @extschema@.predict_class(project text, "row" record)
    RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_class_row';
COMMENT ON FUNCTION @extschema@.predict_class(text, record) IS 'With the deployed model: the predicted class label, as text; a row matched by column name.';

CREATE FUNCTION @extschema@.predict_class(project text, version integer, "row" record)
    RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_class_version_row';
COMMENT ON FUNCTION @extschema@.predict_class(text, integer, record) IS 'With a given version: the predicted class label, as text; a row matched by column name.';

CREATE FUNCTION @extschema@.transform(project text, features double precision[])
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_transform_array';
COMMENT ON FUNCTION @extschema@.transform(text, double precision[]) IS 'With the deployed model: the coordinates on the PCA components, or the distances to the k-means centers; numeric features in training order.';

CREATE FUNCTION @extschema@.transform(project text, version integer, features double precision[])
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_transform_version_array';
COMMENT ON FUNCTION @extschema@.transform(text, integer, double precision[]) IS 'With a given version: the coordinates on the PCA components, or the distances to the k-means centers; numeric features in training order.';

CREATE FUNCTION @extschema@.transform(project text, "row" record)
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_transform_row';
COMMENT ON FUNCTION @extschema@.transform(text, record) IS 'With the deployed model: the coordinates on the PCA components, or the distances to the k-means centers; a row matched by column name.';

CREATE FUNCTION @extschema@.transform(project text, version integer, "row" record)
    RETURNS double precision[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_transform_version_row';
COMMENT ON FUNCTION @extschema@.transform(text, integer, record) IS 'With a given version: the coordinates on the PCA components, or the distances to the k-means centers; a row matched by column name.';

CREATE FUNCTION @extschema@.explain(project text, features double precision[])
    RETURNS TABLE (feature text, contribution double precision, class text)
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 21
    AS 'MODULE_PATHNAME', 'aifactory_explain_array';
COMMENT ON FUNCTION @extschema@.explain(text, double precision[]) IS 'TreeSHAP contributions of each design column to the deployed tree model''s raw output for these numeric features, plus the expected_value row; they sum to the raw output.';

CREATE FUNCTION @extschema@.explain(project text, version integer, features double precision[])
    RETURNS TABLE (feature text, contribution double precision, class text)
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 21
    AS 'MODULE_PATHNAME', 'aifactory_explain_version_array';
COMMENT ON FUNCTION @extschema@.explain(text, integer, double precision[]) IS 'TreeSHAP contributions with a given version of a tree model; numeric features in training order.';

CREATE FUNCTION @extschema@.explain(project text, "row" record)
    RETURNS TABLE (feature text, contribution double precision, class text)
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 21
    AS 'MODULE_PATHNAME', 'aifactory_explain_row';
COMMENT ON FUNCTION @extschema@.explain(text, record) IS 'TreeSHAP contributions to the deployed tree model''s raw output for a row matched by column name, plus the expected_value row.';

CREATE FUNCTION @extschema@.explain(project text, version integer, "row" record)
    RETURNS TABLE (feature text, contribution double precision, class text)
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 21
    AS 'MODULE_PATHNAME', 'aifactory_explain_version_row';
COMMENT ON FUNCTION @extschema@.explain(text, integer, record) IS 'TreeSHAP contributions with a given version of a tree model, for a row matched by column name.';

---------------------------------------------------------------------------
-- Aggregates.  One-pass least squares (a streaming QR) with a combine
-- function and a serialized varlena state: PARALLEL SAFE, so parallel
-- query (and Citus) can split the scan.
---------------------------------------------------------------------------

CREATE FUNCTION @extschema@._lsq_combine(internal, internal) RETURNS internal
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_lsq_combine';
COMMENT ON FUNCTION @extschema@._lsq_combine(internal, internal) IS 'Internal: merges two least-squares states.';
CREATE FUNCTION @extschema@._lsq_serialize(internal) RETURNS bytea
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_lsq_serialize';
COMMENT ON FUNCTION @extschema@._lsq_serialize(internal) IS 'Internal: least-squares state to bytes.';
CREATE FUNCTION @extschema@._lsq_deserialize(bytea, internal) RETURNS internal
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_lsq_deserialize';
COMMENT ON FUNCTION @extschema@._lsq_deserialize(bytea, internal) IS 'Internal: bytes to least-squares state.';

-- linreg(y, x[]): ordinary least squares with an intercept, as MADlib's linregr.
CREATE FUNCTION @extschema@._linreg_transition(internal, double precision, double precision[])
    RETURNS internal
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_linreg_transition';
COMMENT ON FUNCTION @extschema@._linreg_transition(internal, double precision, double precision[]) IS 'Internal: linreg transition.';
CREATE FUNCTION @extschema@._linreg_final(internal) RETURNS @extschema@.linreg_result
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_linreg_final';
COMMENT ON FUNCTION @extschema@._linreg_final(internal) IS 'Internal: linreg final function.';

CREATE AGGREGATE @extschema@.linreg(y double precision, x double precision[]) (
    SFUNC = @extschema@._linreg_transition,
    STYPE = internal,
    FINALFUNC = @extschema@._linreg_final,
    COMBINEFUNC = @extschema@._lsq_combine,
    SERIALFUNC = @extschema@._lsq_serialize,
    DESERIALFUNC = @extschema@._lsq_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.linreg(double precision, double precision[]) IS
    'Ordinary least squares of y on x with an intercept, by a numerically stable streaming QR; NULL rows are skipped.';

-- The aggregates train() runs.  Arguments after the first are the raw
-- inputs: target, numeric features as float8, categorical ones as text.
CREATE FUNCTION @extschema@._train_transition(internal, bytea, VARIADIC "any")
    RETURNS internal
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_train_transition';
COMMENT ON FUNCTION @extschema@._train_transition(internal, bytea, "any") IS 'Internal: train() pass transition.';
CREATE FUNCTION @extschema@._train_final(internal) RETURNS bytea
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_train_final';
COMMENT ON FUNCTION @extschema@._train_final(internal) IS 'Internal: train() pass result.';
CREATE FUNCTION @extschema@._train_combine(internal, internal) RETURNS internal
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_train_combine';
COMMENT ON FUNCTION @extschema@._train_combine(internal, internal) IS 'Internal: merges two train() pass states.';
CREATE FUNCTION @extschema@._train_serialize(internal) RETURNS bytea
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_train_serialize';
COMMENT ON FUNCTION @extschema@._train_serialize(internal) IS 'Internal: train() pass state to bytes.';
CREATE FUNCTION @extschema@._train_deserialize(bytea, internal) RETURNS internal
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_train_deserialize';
COMMENT ON FUNCTION @extschema@._train_deserialize(bytea, internal) IS 'Internal: bytes to train() pass state.';

CREATE AGGREGATE @extschema@._train_pass(bytea, VARIADIC "any") (
    SFUNC = @extschema@._train_transition,
    STYPE = internal,
    FINALFUNC = @extschema@._train_final,
    COMBINEFUNC = @extschema@._train_combine,
    SERIALFUNC = @extschema@._train_serialize,
    DESERIALFUNC = @extschema@._train_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@._train_pass(bytea, "any") IS
    'Internal: one scan of a training source (profile, least-squares or evaluation pass, as the plan in the first argument says).';

-- The aggregate drift() runs: the model's bytes, then its raw feature columns.
CREATE FUNCTION @extschema@._drift_transition(internal, bytea, VARIADIC "any")
    RETURNS internal
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_drift_transition';
COMMENT ON FUNCTION @extschema@._drift_transition(internal, bytea, "any") IS 'Internal: drift() pass transition.';
CREATE FUNCTION @extschema@._drift_final(internal) RETURNS bytea
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_drift_final';
COMMENT ON FUNCTION @extschema@._drift_final(internal) IS 'Internal: drift() pass result (the current data summarized as a baseline).';
CREATE FUNCTION @extschema@._drift_combine(internal, internal) RETURNS internal
    LANGUAGE C PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_drift_combine';
COMMENT ON FUNCTION @extschema@._drift_combine(internal, internal) IS 'Internal: merges two drift() pass states.';
CREATE FUNCTION @extschema@._drift_serialize(internal) RETURNS bytea
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_drift_serialize';
COMMENT ON FUNCTION @extschema@._drift_serialize(internal) IS 'Internal: drift() pass state to bytes.';
CREATE FUNCTION @extschema@._drift_deserialize(bytea, internal) RETURNS internal
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aifactory_drift_deserialize';
COMMENT ON FUNCTION @extschema@._drift_deserialize(bytea, internal) IS 'Internal: bytes to drift() pass state.';

CREATE AGGREGATE @extschema@._drift_pass(bytea, VARIADIC "any") (
    SFUNC = @extschema@._drift_transition,
    STYPE = internal,
    FINALFUNC = @extschema@._drift_final,
    COMBINEFUNC = @extschema@._drift_combine,
    SERIALFUNC = @extschema@._drift_serialize,
    DESERIALFUNC = @extschema@._drift_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@._drift_pass(bytea, "any") IS
    'Internal: one scan of a drift() source, summarizing the current rows and the model''s predictions on them.';

---------------------------------------------------------------------------
-- Jobs: train_async() and tune_async() run train() or tune() in a dynamic
-- background worker, as the submitting role.  job_runs is user data
-- (pg_dump keeps it), readable by everyone like the registry, and written
-- only by the functions and the job's worker, as the extension's owner.
---------------------------------------------------------------------------

CREATE TABLE @extschema@.job_runs (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('train', 'tune', 'retrain')),
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress       double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    phase          text,
    submitted_by   regrole NOT NULL,
    submitted      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started        timestamptz,
    finished       timestamptz,
    error          text,
    sqlstate       text,
    project        text,
    version        integer,
    args           jsonb NOT NULL,
    settings       jsonb NOT NULL DEFAULT '{}',
    worker_pid     integer,
    worker_started timestamptz
);
CREATE INDEX job_runs_active_idx ON @extschema@.job_runs (id)
    WHERE status IN ('queued', 'running');
COMMENT ON TABLE @extschema@.job_runs IS 'One row per background job; read the jobs view, which also tells jobs whose worker died.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_runs_id_seq', '');

CREATE FUNCTION @extschema@._jobs()
    RETURNS TABLE (id bigint, kind text, status text, progress double precision, phase text,
                   submitted_by regrole, submitted timestamptz, started timestamptz,
                   finished timestamptz, error text, sqlstate text, project text,
                   version integer, args jsonb, pid integer)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_jobs';
COMMENT ON FUNCTION @extschema@._jobs() IS 'Internal: the rows of the jobs view.';

CREATE VIEW @extschema@.jobs AS
SELECT id, kind, status, progress, phase, submitted_by, submitted, started, finished,
       error, sqlstate, project, version, args, pid
FROM @extschema@._jobs();
COMMENT ON VIEW @extschema@.jobs IS 'Every background job of this database as it is now: status, live progress and phase, outcome; a queued or running job whose worker died reads failed.';

CREATE FUNCTION @extschema@.train_async(
        project     text,
        source      text,
        target      text,
        algorithm   text DEFAULT 'auto',
        hyperparams jsonb DEFAULT '{}',
        features    text[] DEFAULT NULL,
        test_size   double precision DEFAULT 0.25,
        seed        integer DEFAULT NULL,
        deploy      text DEFAULT 'best')
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_train_async';
COMMENT ON FUNCTION @extschema@.train_async(text, text, text, text, jsonb, text[], double precision, integer, text) IS
    'Run train() with these arguments in a background worker, as the calling role, once this transaction commits; returns the job id at once.';

CREATE FUNCTION @extschema@.tune_async(
        project      text,
        source       text,
        target       text,
        algorithm    text,
        search_space jsonb,
        strategy     text DEFAULT 'random',
        trials       integer DEFAULT 20,
        folds        integer DEFAULT 5,
        metric       text DEFAULT NULL,
        workers      integer DEFAULT NULL,
        test_size    double precision DEFAULT 0.25,
        seed         integer DEFAULT NULL,
        deploy       text DEFAULT 'best',
        hyperparams  jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_tune_async';
COMMENT ON FUNCTION @extschema@.tune_async(text, text, text, text, jsonb, text, integer, integer, text, integer, double precision, integer, text, jsonb) IS
    'Run tune() with these arguments in a background worker, as the calling role, once this transaction commits; returns the job id at once.';

CREATE FUNCTION @extschema@.wait(job bigint, timeout interval DEFAULT NULL)
    RETURNS @extschema@.jobs
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_wait';
COMMENT ON FUNCTION @extschema@.wait(bigint, interval) IS
    'Wait until a job has ended (or the timeout, if not NULL, has passed) and return its jobs row.';

CREATE FUNCTION @extschema@.cancel(job bigint)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_cancel';
COMMENT ON FUNCTION @extschema@.cancel(bigint) IS
    'Cancel a queued or running job (its submitter, members of that role and superusers only); false if it had already ended.';

REVOKE ALL ON @extschema@.job_runs FROM PUBLIC;
GRANT SELECT ON @extschema@.job_runs, @extschema@.jobs TO PUBLIC;

---------------------------------------------------------------------------
-- Feature store: feature views over event tables, point-in-time training
-- sets, online tables.  The catalogs are user data (pg_dump keeps them),
-- readable by everyone and written only through the functions, as the
-- extension's owner after the caller's right has been checked.  Sources
-- are stored as schema-qualified names (text, not regclass, so that
-- pg_upgrade accepts the tables).  The generated views and tables and the
-- online tables are ordinary relations owned by their creator.
---------------------------------------------------------------------------

CREATE TABLE @extschema@.feature_views (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE
                 CHECK (pg_catalog.length(name) >= 1 AND pg_catalog.length(name) <= 56),
    source       text NOT NULL,
    entity_keys  text[] NOT NULL CHECK (pg_catalog.cardinality(entity_keys) >= 1),
    event_time   text NOT NULL,
    features     text[] NOT NULL CHECK (pg_catalog.cardinality(features) >= 1),
    ttl          interval CHECK (ttl > '0'::interval),
    created_time text,
    owner        regrole NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.feature_views IS 'One row per feature view: the entity keys, event time, optional created time, features and time to live of a source table or view.';

CREATE TABLE @extschema@.training_sets (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE
                  CHECK (pg_catalog.length(name) >= 1 AND pg_catalog.length(name) <= 63),
    relation      text NOT NULL,
    spine         text NOT NULL,
    spine_time    text NOT NULL,
    feature_views text[] NOT NULL,
    entity_keys   text[] NOT NULL,
    label         text,
    materialized  boolean NOT NULL,
    columns       jsonb NOT NULL,
    query         text NOT NULL,
    owner         regrole NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.training_sets IS 'One row per training set: its view or table, spine, spine time, feature views, label, feature columns (columns: column, feature_view, feature) and the point-in-time query it was built from.';

CREATE TABLE @extschema@.online_tables (
    feature_view_id bigint PRIMARY KEY
                    REFERENCES @extschema@.feature_views (id) ON DELETE CASCADE,
    relation        text NOT NULL,
    marker          text NOT NULL,
    watermark       text,
    rows_read       bigint NOT NULL DEFAULT 0,
    rows_changed    bigint NOT NULL DEFAULT 0,
    materialized_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    materialized_by text NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE @extschema@.online_tables IS 'One row per materialized feature view: its online table, the column that marks new rows (created time, else event time), the watermark reached by the last run and what that run read and changed.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.feature_views', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.feature_views_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.training_sets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.training_sets_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.online_tables', '');

-- A change to the catalogs invalidates every backend's cached lookups
-- (online_features, predict_online) when it commits.
CREATE FUNCTION @extschema@._feature_store_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aifactory_relation_changed';
COMMENT ON FUNCTION @extschema@._feature_store_changed() IS 'Internal: invalidates cached online lookups at commit.';

CREATE TRIGGER feature_views_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.feature_views
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._feature_store_changed();
CREATE TRIGGER online_tables_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.online_tables
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._feature_store_changed();

CREATE FUNCTION @extschema@.create_feature_view(
        name         text,
        source       regclass,
        entity_keys  text[],
        event_time   text,
        features     text[] DEFAULT NULL,
        ttl          interval DEFAULT NULL,
        created_time text DEFAULT NULL)
    RETURNS @extschema@.feature_views
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_create_feature_view';
COMMENT ON FUNCTION @extschema@.create_feature_view(text, regclass, text[], text, text[], interval, text) IS
    'Register a feature view of a table or view: entity keys, event time (timestamp, timestamptz or date), features (default: every other column), time to live, and a created time that breaks ties between events at one instant.';

CREATE FUNCTION @extschema@.drop_feature_view(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_drop_feature_view';
COMMENT ON FUNCTION @extschema@.drop_feature_view(text) IS
    'Drop a feature view and its online table (its owner, members of that role and superusers only); refused while a training set uses it.';

CREATE FUNCTION @extschema@.feature_stats(feature_view text)
    RETURNS TABLE (feature text, type text, count bigint, nulls bigint, mean double precision,
                   std double precision, min double precision, max double precision,
                   quantiles double precision[], distinct_count bigint)
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'aifactory_feature_stats';
COMMENT ON FUNCTION @extschema@.feature_stats(text) IS
    'Per feature of a feature view, over its whole source: non-NULL count, NULLs, mean, sample standard deviation, min, max and the 5/25/50/75/95 % quantiles (numeric and boolean features), and the distinct count.';

CREATE FUNCTION @extschema@.create_training_set(
        name          text,
        spine         regclass,
        spine_time    text,
        feature_views text[],
        label         text DEFAULT NULL,
        materialized  boolean DEFAULT false,
        schema        text DEFAULT NULL)
    RETURNS regclass
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_create_training_set';
COMMENT ON FUNCTION @extschema@.create_training_set(text, regclass, text, text[], text, boolean, text) IS
    'Create a view (or with materialized => true a table) named like the training set, in schema or the current schema: each spine row with, per feature view, the features of the latest event at or before the spine time (within the ttl; ties on event time go to the latest created time), NULLs where there is none.';

CREATE FUNCTION @extschema@.drop_training_set(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_drop_training_set';
COMMENT ON FUNCTION @extschema@.drop_training_set(text) IS
    'Drop a training set and its view or table (its owner, members of that role and superusers only); models keep their lineage.';

CREATE FUNCTION @extschema@.materialize(
        feature_view text,
        full         boolean DEFAULT false,
        schema       text DEFAULT NULL)
    RETURNS TABLE (online_table text, rows_read bigint, rows_changed bigint, watermark text)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_materialize';
COMMENT ON FUNCTION @extschema@.materialize(text, boolean, text) IS
    'Bring the online table <feature view>_online (created on the first run, in schema or the current schema) up to date: the latest row per entity, merged from the source rows at or after the last run''s watermark (created time if the view has one, else event time); full => true rebuilds it.';

CREATE FUNCTION @extschema@.online_features(feature_view text, VARIADIC keys text[])
    RETURNS jsonb
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'aifactory_online_features';
COMMENT ON FUNCTION @extschema@.online_features(text, text[]) IS
    'The online row of one entity (keys, event time, created time, features) as jsonb, NULL when the entity has none; one key value per entity key, in order.';

CREATE FUNCTION @extschema@.predict_online(project text, VARIADIC keys text[])
    RETURNS double precision
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'aifactory_predict_online';
COMMENT ON FUNCTION @extschema@.predict_online(text, text[]) IS
    'Predict with the deployed model of a project trained on a training set, from the online tables of its feature views: one key value per entity key of the training set (model_info(project)->''lineage''->''entity_keys''), in order.';

REVOKE ALL ON @extschema@.feature_views, @extschema@.training_sets, @extschema@.online_tables FROM PUBLIC;
GRANT SELECT ON @extschema@.feature_views, @extschema@.training_sets, @extschema@.online_tables TO PUBLIC;

---------------------------------------------------------------------------
-- Traffic and feedback: A/B splits between versions, the prediction log,
-- outcomes and live metrics.  The settings and the log are user data
-- (pg_dump keeps them), written only through the functions as the
-- extension's owner.  The log holds applications' inputs, so row security
-- shows a project's rows only to its owner role's members (superusers and
-- the extension's owner see all).
---------------------------------------------------------------------------

CREATE TABLE @extschema@.traffic_splits (
    project_id  bigint NOT NULL REFERENCES @extschema@.projects (id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version > 0),
    model_id    bigint NOT NULL REFERENCES @extschema@.models (id),
    weight      double precision NOT NULL CHECK (weight > 0 AND weight <= 1),
    set_by      text NOT NULL DEFAULT CURRENT_USER,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (project_id, version)
);
COMMENT ON TABLE @extschema@.traffic_splits IS 'The traffic split of each project (set_traffic): one row per version with its weight; keyed predictions are routed between them.';

CREATE TABLE @extschema@.prediction_logging (
    project_id  bigint PRIMARY KEY REFERENCES @extschema@.projects (id) ON DELETE CASCADE,
    enabled     boolean NOT NULL,
    set_by      text NOT NULL DEFAULT CURRENT_USER,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE @extschema@.prediction_logging IS 'Whether keyed predictions of a project are logged (set_logging); no row means off.';

-- No foreign key on project_id: a key's check per row would cost as much
-- as the row's insert.
CREATE TABLE @extschema@.prediction_log (
    id              bigserial PRIMARY KEY,
    project_id      bigint NOT NULL,
    version         integer NOT NULL,
    key             text NOT NULL,
    inputs          jsonb NOT NULL,
    prediction      double precision,
    predicted_class text,
    probabilities   double precision[],
    logged_at       timestamptz NOT NULL,
    actual          text,
    outcome_at      timestamptz
);
CREATE INDEX prediction_log_project_key_idx
    ON @extschema@.prediction_log (project_id, key);
COMMENT ON TABLE @extschema@.prediction_log IS 'Keyed predictions of projects with logging on: inputs, version, prediction, and the outcome recorded later (record_outcome).';

ALTER TABLE @extschema@.prediction_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_owner_reads ON @extschema@.prediction_log FOR SELECT
    USING (pg_catalog.pg_has_role(
        (SELECT p.owner FROM @extschema@.projects AS p
         WHERE p.id OPERATOR(pg_catalog.=) project_id), 'USAGE'));

SELECT pg_catalog.pg_extension_config_dump('@extschema@.traffic_splits', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.prediction_logging', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.prediction_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.prediction_log_id_seq', '');

-- A change to a split or to logging invalidates every backend's cached
-- serving settings when (and only when) it commits.
CREATE FUNCTION @extschema@._serving_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aifactory_relation_changed';
COMMENT ON FUNCTION @extschema@._serving_changed() IS 'Internal: invalidates cached traffic splits and logging settings at commit.';

CREATE TRIGGER traffic_splits_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.traffic_splits
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._serving_changed();
CREATE TRIGGER prediction_logging_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.prediction_logging
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._serving_changed();

CREATE FUNCTION @extschema@.set_traffic(project text, split jsonb)
    RETURNS TABLE (version integer, weight double precision)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_set_traffic';
COMMENT ON FUNCTION @extschema@.set_traffic(text, jsonb) IS
    'Route keyed predictions between ready versions by weight ({"3": 0.9, "4": 0.1}, positive weights summing to 1); NULL removes the split. Owner only, audited; returns the split now in force.';

CREATE FUNCTION @extschema@.route(project text, key text)
    RETURNS integer
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aifactory_route';
COMMENT ON FUNCTION @extschema@.route(text, text) IS
    'The version predict(project, ..., key) uses for this key now: the traffic split''s, or the deployed version.';

CREATE FUNCTION @extschema@.set_logging(project text, enabled boolean)
    RETURNS void
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'aifactory_set_logging';
COMMENT ON FUNCTION @extschema@.set_logging(text, boolean) IS
    'Log (or stop logging) the keyed predictions of a project into prediction_log. Owner only, audited.';

-- The keyed forms: VOLATILE and PARALLEL UNSAFE because they may write
-- the log; a NULL project or features gives NULL, a NULL key an error.
CREATE FUNCTION @extschema@.predict(project text, features double precision[], key text)
    RETURNS double precision
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_key_array';
COMMENT ON FUNCTION @extschema@.predict(text, double precision[], text) IS
    'Predict with the version the key is routed to (traffic split, else the deployed model) from numeric features in training order; logged under the key when the project has logging on.';

CREATE FUNCTION @extschema@.predict(project text, "row" record, key text)
    RETURNS double precision
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_key_row';
COMMENT ON FUNCTION @extschema@.predict(text, record, text) IS
    'Predict with the version the key is routed to from a row matched by column name; logged under the key when the project has logging on.';

CREATE FUNCTION @extschema@.predict_class(project text, features double precision[], key text)
    RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_class_key_array';
COMMENT ON FUNCTION @extschema@.predict_class(text, double precision[], text) IS
    'The predicted label, as text, of the version the key is routed to; logged when the project has logging on.';

CREATE FUNCTION @extschema@.predict_class(project text, "row" record, key text)
    RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_class_key_row';
COMMENT ON FUNCTION @extschema@.predict_class(text, record, text) IS
    'The predicted label, as text, of the version the key is routed to, from a row; logged when the project has logging on.';

CREATE FUNCTION @extschema@.predict_proba(project text, features double precision[], key text)
    RETURNS double precision[]
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_proba_key_array';
COMMENT ON FUNCTION @extschema@.predict_proba(text, double precision[], text) IS
    'The class probabilities of the version the key is routed to; logged when the project has logging on.';

CREATE FUNCTION @extschema@.predict_proba(project text, "row" record, key text)
    RETURNS double precision[]
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aifactory_predict_proba_key_row';
COMMENT ON FUNCTION @extschema@.predict_proba(text, record, text) IS
    'The class probabilities of the version the key is routed to, from a row; logged when the project has logging on.';

CREATE FUNCTION @extschema@.record_outcome(project text, key text, actual anyelement)
    RETURNS bigint
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'aifactory_record_outcome';
COMMENT ON FUNCTION @extschema@.record_outcome(text, text, anyelement) IS
    'Record the true value or label for every logged prediction with this key; returns how many it matched. Owner only.';

CREATE FUNCTION @extschema@.record_outcome(project text, key text, actual text)
    RETURNS bigint
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'aifactory_record_outcome';
COMMENT ON FUNCTION @extschema@.record_outcome(text, text, text) IS
    'Record the true label (or value) for every logged prediction with this key; returns how many it matched. Owner only.';

CREATE FUNCTION @extschema@.live_metrics(project text, since timestamptz DEFAULT NULL)
    RETURNS TABLE (version integer, n bigint, metric text, value double precision)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_live_metrics';
COMMENT ON FUNCTION @extschema@.live_metrics(text, timestamptz) IS
    'Per version, the metrics (r2, rmse, mae; or accuracy, precision, recall, f1, and roc_auc, log_loss for two classes) of the logged predictions made since then that have outcomes.';

REVOKE ALL ON @extschema@.traffic_splits, @extschema@.prediction_logging,
              @extschema@.prediction_log FROM PUBLIC;
GRANT SELECT ON @extschema@.traffic_splits, @extschema@.prediction_logging,
                @extschema@.prediction_log TO PUBLIC;

---------------------------------------------------------------------------
-- Monitors: drift() of a project's deployed model over a source, run on a
-- schedule by run_monitors() (one round; pg_cron can drive it).  The
-- monitors and their reports are user data (pg_dump keeps them), readable
-- by everyone and written only through the functions, as the extension's
-- owner after the caller's right has been checked.
---------------------------------------------------------------------------

CREATE TABLE @extschema@.monitors (
    id          bigserial PRIMARY KEY,
    project     text NOT NULL,
    source      text NOT NULL,
    every       interval NOT NULL CHECK (every OPERATOR(pg_catalog.>) '0'::interval),
    on_drift    text NOT NULL DEFAULT 'alert' CHECK (on_drift IN ('alert', 'retrain')),
    owner       regrole NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_run    timestamptz,
    next_run    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX monitors_due_idx ON @extschema@.monitors (next_run) WHERE enabled;
COMMENT ON TABLE @extschema@.monitors IS 'Drift monitors: drift() of a project''s deployed model over a source every interval, run by run_monitors().';

-- No foreign key to monitors: reports outlive a dropped monitor.
CREATE TABLE @extschema@.drift_reports (
    id                bigserial PRIMARY KEY,
    monitor_id        bigint NOT NULL,
    project           text NOT NULL,
    version           integer,
    run_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    drifted           boolean,
    share             double precision,
    drifted_features  text[],
    report            jsonb,
    action            text NOT NULL CHECK (action IN ('none', 'alert', 'retrain')),
    detail            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX drift_reports_monitor_idx ON @extschema@.drift_reports (monitor_id, run_at);
-- the overview's latest verdict per project
CREATE INDEX drift_reports_project_idx ON @extschema@.drift_reports (project, id);
COMMENT ON TABLE @extschema@.drift_reports IS 'One row per monitor run: the dataset verdict, the drifted features, drift()''s rows as JSON, the action taken; a failed run has NULL verdict and the error in detail.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.monitors', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.monitors_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.drift_reports', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.drift_reports_id_seq', '');

CREATE FUNCTION @extschema@.create_monitor(project text, source text, every interval,
                                           on_drift text DEFAULT 'alert')
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_create_monitor';
COMMENT ON FUNCTION @extschema@.create_monitor(text, text, interval, text) IS
    'Monitor the drift of a project''s deployed model over a source every interval (project owners only); due at once; returns the monitor id.';

CREATE FUNCTION @extschema@.drop_monitor(id bigint)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_drop_monitor';
COMMENT ON FUNCTION @extschema@.drop_monitor(bigint) IS
    'Drop a monitor (its owner or the project''s owner); its reports stay; false if there is no such monitor.';

CREATE FUNCTION @extschema@.run_monitors()
    RETURNS TABLE (monitor_id bigint, project text, version integer, drifted boolean,
                   share double precision, action text)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_run_monitors';
COMMENT ON FUNCTION @extschema@.run_monitors() IS
    'One round over the due monitors the caller may run: drift() each as its owner, record a report, NOTIFY aifactory_alerts on drift (at commit); a drifted retrain monitor submits a retrain() job.';

CREATE FUNCTION @extschema@.retrain(monitor bigint, report bigint DEFAULT NULL)
    RETURNS TABLE (project text, version integer, promoted boolean, decision jsonb)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'aifactory_retrain';
COMMENT ON FUNCTION @extschema@.retrain(bigint, bigint) IS
    'Train a challenger on a monitor''s source and deploy it only if it beats the deployed model on held-out rows; the decision is audited and written to the report (monitor owners only).';

REVOKE ALL ON @extschema@.monitors, @extschema@.drift_reports FROM PUBLIC;
GRANT SELECT ON @extschema@.monitors, @extschema@.drift_reports TO PUBLIC;

---------------------------------------------------------------------------
-- Views for BI tools
---------------------------------------------------------------------------

CREATE VIEW @extschema@.model_metrics AS
SELECT p.name AS project, m.version, m.algorithm, e.key AS metric,
       (e.value OPERATOR(pg_catalog.#>>) '{}')::double precision AS value
FROM @extschema@.models m
JOIN @extschema@.projects p ON p.id OPERATOR(pg_catalog.=) m.project_id
CROSS JOIN LATERAL pg_catalog.jsonb_each(m.metrics) e
WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'number';
COMMENT ON VIEW @extschema@.model_metrics IS 'One row per model version and numeric metric.';

CREATE VIEW @extschema@.overview AS
SELECT p.name AS project, p.task, p.owner,
       m.version AS deployed_version, m.algorithm,
       CASE p.task WHEN 'regression' THEN 'r2' WHEN 'classification' THEN 'f1'
                   WHEN 'clustering' THEN 'silhouette' ELSE 'explained_variance' END AS key_metric,
       (m.metrics OPERATOR(pg_catalog.->>)
        CASE p.task WHEN 'regression' THEN 'r2' WHEN 'classification' THEN 'f1'
                    WHEN 'clustering' THEN 'silhouette' ELSE 'explained_variance' END)::double precision
           AS key_metric_value,
       m.created_at AS trained_at, m.train_rows,
       (SELECT pg_catalog.count(*) FROM @extschema@.models mm
         WHERE mm.project_id OPERATOR(pg_catalog.=) p.id) AS versions,
       d.deployed_at,
       (SELECT CASE WHEN r.drifted THEN 'drifted' WHEN NOT r.drifted THEN 'stable'
                    ELSE 'error' END
          FROM @extschema@.drift_reports r
         WHERE r.project OPERATOR(pg_catalog.=) p.name
         ORDER BY r.id DESC LIMIT 1) AS drift_status
FROM @extschema@.projects p
LEFT JOIN LATERAL (
    SELECT dd.model_id, dd.deployed_at FROM @extschema@.deployments dd
    WHERE dd.project_id OPERATOR(pg_catalog.=) p.id
      AND dd.alias OPERATOR(pg_catalog.=) 'production'
    ORDER BY dd.id DESC LIMIT 1) d ON true
LEFT JOIN @extschema@.models m ON m.id OPERATOR(pg_catalog.=) d.model_id;
COMMENT ON VIEW @extschema@.overview IS 'One row per project: deployed version, algorithm, key metric, when trained, rows, and the verdict of its latest monitor run (drifted, stable, error; NULL without monitors).';

---------------------------------------------------------------------------
-- Grants: the registry is read by everyone and written only through the
-- functions, which check that the caller owns the project.
---------------------------------------------------------------------------

REVOKE ALL ON @extschema@.projects, @extschema@.models, @extschema@.deployments,
              @extschema@.audit_log FROM PUBLIC;
GRANT SELECT ON @extschema@.projects, @extschema@.models, @extschema@.deployments,
                @extschema@.audit_log, @extschema@.overview, @extschema@.model_metrics TO PUBLIC;
REVOKE ALL ON @extschema@.trials FROM PUBLIC;
GRANT SELECT ON @extschema@.trials TO PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
