/*-------------------------------------------------------------------------
 *
 * hyperparams.c
 *	  Reading and reporting hyperparameters.
 *
 * Names and defaults follow scikit-learn 1.2 (so that a setting tuned
 * there carries over), plus aifactory's own: intercept, standardize (the
 * penalty then applies on the standardized scale, as in a StandardScaler
 * pipeline) and impute.  An unknown or ill-typed key is an error, never
 * silently ignored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "train/hyperparams.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

typedef enum HpKind
{
	HP_BOOL,
	HP_NUMBER,
	HP_INT,
	HP_IMPUTE,
	HP_INT_OR_NULL,				/* null stores 0 */
	HP_MAX_FEATURES,
	HP_OBJECTIVE,				/* gbdt: XGBoost's objective names */
	HP_CRITERION				/* random_forest: sklearn's criterion names */
} HpKind;

#define A(x) (1 << (x))
#define LINEAR_FAMILY (A(ALGO_LINEAR) | A(ALGO_RIDGE) | A(ALGO_ELASTIC_NET) | A(ALGO_LOGISTIC))
#define TREES (A(ALGO_GBDT) | A(ALGO_RANDOM_FOREST))
#define ALL (LINEAR_FAMILY | A(ALGO_NAIVE_BAYES) | A(ALGO_KMEANS) | A(ALGO_PCA) | TREES)

typedef struct HpSpec
{
	const char *name;
	HpKind		kind;
	Size		offset;
	int			algorithms;		/* bitmask of AlgorithmId */
	double		min;			/* numbers and integers: smallest allowed */
	bool		min_exclusive;
	double		max;
} HpSpec;

static const HpSpec specs[] = {
	{"alpha", HP_NUMBER, offsetof(HyperParams, alpha), A(ALGO_RIDGE) | A(ALGO_ELASTIC_NET), 0, false, INFINITY},
	{"l1_ratio", HP_NUMBER, offsetof(HyperParams, l1_ratio), A(ALGO_ELASTIC_NET), 0, false, 1},
	{"C", HP_NUMBER, offsetof(HyperParams, C), A(ALGO_LOGISTIC), 0, true, INFINITY},
	{"max_iter", HP_INT, offsetof(HyperParams, max_iter), A(ALGO_ELASTIC_NET) | A(ALGO_LOGISTIC) | A(ALGO_KMEANS), 1, false, 1e9},
	{"tol", HP_NUMBER, offsetof(HyperParams, tol), A(ALGO_ELASTIC_NET) | A(ALGO_LOGISTIC) | A(ALGO_KMEANS), 0, false, INFINITY},
	{"var_smoothing", HP_NUMBER, offsetof(HyperParams, var_smoothing), A(ALGO_NAIVE_BAYES), 0, false, INFINITY},
	{"n_clusters", HP_INT, offsetof(HyperParams, n_clusters), A(ALGO_KMEANS), 1, false, 1e6},
	{"n_init", HP_INT, offsetof(HyperParams, n_init), A(ALGO_KMEANS), 1, false, 1e4},
	{"n_components", HP_INT, offsetof(HyperParams, n_components), A(ALGO_PCA), 1, false, 1e6},
	{"intercept", HP_BOOL, offsetof(HyperParams, intercept), LINEAR_FAMILY, 0, false, 0},
	{"standardize", HP_BOOL, offsetof(HyperParams, standardize),
	A(ALGO_RIDGE) | A(ALGO_ELASTIC_NET) | A(ALGO_LOGISTIC) | A(ALGO_KMEANS) | A(ALGO_PCA), 0, false, 0},
	{"impute", HP_IMPUTE, offsetof(HyperParams, impute), ALL, 0, false, 0},
	{"n_estimators", HP_INT, offsetof(HyperParams, n_estimators), TREES, 1, false, 1e6},
	{"max_depth", HP_INT, offsetof(HyperParams, max_depth), A(ALGO_GBDT), 1, false, 30},
	{"max_depth", HP_INT_OR_NULL, offsetof(HyperParams, max_depth), A(ALGO_RANDOM_FOREST), 1, false, 60},
	{"max_bin", HP_INT, offsetof(HyperParams, max_bin), TREES, 2, false, 256},
	{"learning_rate", HP_NUMBER, offsetof(HyperParams, learning_rate), A(ALGO_GBDT), 0, true, INFINITY},
	{"min_child_weight", HP_NUMBER, offsetof(HyperParams, min_child_weight), A(ALGO_GBDT), 0, false, INFINITY},
	{"reg_lambda", HP_NUMBER, offsetof(HyperParams, reg_lambda), A(ALGO_GBDT), 0, false, INFINITY},
	{"gamma", HP_NUMBER, offsetof(HyperParams, gamma), A(ALGO_GBDT), 0, false, INFINITY},
	{"subsample", HP_NUMBER, offsetof(HyperParams, subsample), A(ALGO_GBDT), 0, true, 1},
	{"colsample_bytree", HP_NUMBER, offsetof(HyperParams, colsample_bytree), A(ALGO_GBDT), 0, true, 1},
	{"early_stopping_rounds", HP_INT_OR_NULL, offsetof(HyperParams, early_stopping_rounds), A(ALGO_GBDT), 1, false, 1e6},
	{"validation_fraction", HP_NUMBER, offsetof(HyperParams, validation_fraction), A(ALGO_GBDT), 0, true, 0.5},
	{"max_features", HP_MAX_FEATURES, offsetof(HyperParams, max_features), A(ALGO_RANDOM_FOREST), 0, true, 1e6},
	{"min_samples_leaf", HP_INT, offsetof(HyperParams, min_samples_leaf), A(ALGO_RANDOM_FOREST), 1, false, 1e9},
	{"objective", HP_OBJECTIVE, offsetof(HyperParams, tree_task), A(ALGO_GBDT), 0, false, 0},
	{"criterion", HP_CRITERION, offsetof(HyperParams, tree_task), A(ALGO_RANDOM_FOREST), 0, false, 0},
	{"bootstrap", HP_BOOL, offsetof(HyperParams, bootstrap), A(ALGO_RANDOM_FOREST), 0, false, 0},
};

const char *
ImputeName(ImputeStrategy strategy)
{
	switch (strategy)
	{
		case IMPUTE_MEAN:
			return "mean";
		case IMPUTE_MEDIAN:
			return "median";
		case IMPUTE_MOST_FREQUENT:
			return "most_frequent";
		case IMPUTE_ERROR:
			return "error";
		case IMPUTE_NONE:
			return "none";
	}
	return "mean";
}

static char *
known_list(AlgorithmId algorithm)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(specs); i++)
		if (specs[i].algorithms & A(algorithm))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", specs[i].name);
	return buf.data;
}

static void
set_defaults(AlgorithmId algorithm, HyperParams *hp)
{
	memset(hp, 0, sizeof(*hp));
	hp->intercept = true;
	hp->impute = (algorithm == ALGO_GBDT || algorithm == ALGO_RANDOM_FOREST) ?
		IMPUTE_NONE : IMPUTE_MEAN;
	hp->standardize = algorithm == ALGO_RIDGE || algorithm == ALGO_ELASTIC_NET ||
		algorithm == ALGO_LOGISTIC || algorithm == ALGO_KMEANS;
	hp->alpha = 1.0;
	hp->l1_ratio = 0.5;
	hp->C = 1.0;
	hp->max_iter = algorithm == ALGO_ELASTIC_NET ? 1000 :
		algorithm == ALGO_KMEANS ? 300 : 100;
	hp->tol = 1e-4;
	hp->var_smoothing = 1e-9;
	hp->n_clusters = 8;
	hp->n_init = 10;
	hp->n_components = 0;
	hp->n_estimators = 100;
	hp->max_depth = algorithm == ALGO_GBDT ? 6 : 0;
	hp->max_bin = 256;
	hp->learning_rate = 0.3;
	hp->min_child_weight = 1.0;
	hp->reg_lambda = 1.0;
	hp->gamma = 0.0;
	hp->subsample = 1.0;
	hp->colsample_bytree = 1.0;
	hp->early_stopping_rounds = 0;
	hp->validation_fraction = 0.1;
	hp->max_features = MAX_FEATURES_UNSET;
	hp->min_samples_leaf = 1;
	hp->bootstrap = true;
}

double
MaxFeaturesFraction(const HyperParams *hp, int p, bool classification)
{
	double		m = hp->max_features;
	double		count;

	if (p <= 0)
		return 1.0;
	if (m == MAX_FEATURES_UNSET)
		m = classification ? MAX_FEATURES_SQRT : 1.0;
	if (m == MAX_FEATURES_SQRT)
		count = Max(1.0, floor(sqrt((double) p)));
	else if (m == MAX_FEATURES_LOG2)
		count = Max(1.0, floor(log2((double) p)));
	else if (m <= 1.0)
		return m;
	else
		count = Min(m, (double) p);
	return count / p;
}

static double
number_value(const char *key, JsonbValue *v)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be a number", key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

static void
check_range(const HpSpec *spec, double x)
{
	bool		ok = spec->min_exclusive ? x > spec->min : x >= spec->min;

	if (!ok || !(x <= spec->max) || isnan(x))
	{
		if (isinf(spec->max))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter \"%s\" must be %s %g", spec->name,
							spec->min_exclusive ? "greater than" : "at least", spec->min)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be between %g and %g",
						spec->name, spec->min, spec->max)));
	}
}

void
HyperParamsParse(AlgorithmId algorithm, Jsonb *json, HyperParams *hp)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	set_defaults(algorithm, hp);
	if (json == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparams must be a JSON object"),
				 errhint("For example '{\"alpha\": 0.5}'.")));

	it = JsonbIteratorInit(&json->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		const HpSpec *spec = NULL;
		char	   *field;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		for (int i = 0; i < lengthof(specs); i++)
			if (strcmp(specs[i].name, key) == 0 && (specs[i].algorithms & A(algorithm)))
				spec = &specs[i];
		if (spec == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown hyperparameter \"%s\" for algorithm %s", key,
							AlgorithmName(algorithm)),
					 errhint("Known hyperparameters of %s: %s.", AlgorithmName(algorithm),
							 known_list(algorithm))));
		field = (char *) hp + spec->offset;
		switch (spec->kind)
		{
			case HP_BOOL:
				if (v.type != jbvBool)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("hyperparameter \"%s\" must be true or false", key)));
				*(bool *) field = v.val.boolean;
				break;
			case HP_NUMBER:
				{
					double		x = number_value(key, &v);

					check_range(spec, x);
					*(double *) field = x;
				}
				break;
			case HP_INT:
				{
					double		x = number_value(key, &v);

					if (x != floor(x))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("hyperparameter \"%s\" must be an integer", key)));
					check_range(spec, x);
					*(int *) field = (int) x;
				}
				break;
			case HP_INT_OR_NULL:
				if (v.type == jbvNull)
				{
					*(int *) field = 0;
					break;
				}
				{
					double		x = number_value(key, &v);

					if (x != floor(x))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("hyperparameter \"%s\" must be an integer or null", key)));
					check_range(spec, x);
					*(int *) field = (int) x;
				}
				break;
			case HP_MAX_FEATURES:
				if (v.type == jbvNull)
					*(double *) field = 1.0;
				else if (v.type == jbvString)
				{
					char	   *s = pnstrdup(v.val.string.val, v.val.string.len);

					if (strcmp(s, "sqrt") == 0)
						*(double *) field = MAX_FEATURES_SQRT;
					else if (strcmp(s, "log2") == 0)
						*(double *) field = MAX_FEATURES_LOG2;
					else
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("unknown max_features \"%s\"", s),
								 errhint("Use \"sqrt\", \"log2\", a fraction in (0, 1], a whole number of features, or null for all.")));
				}
				else
				{
					double		x = number_value(key, &v);

					check_range(spec, x);
					if (x > 1 && x != floor(x))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("hyperparameter \"max_features\" must be a fraction in (0, 1] or a whole number of features"),
								 errhint("For example 0.5, 8, \"sqrt\" or null.")));
					*(double *) field = x;
				}
				break;
			case HP_OBJECTIVE:
			case HP_CRITERION:
				{
					char	   *s;
					bool		gbdt = spec->kind == HP_OBJECTIVE;

					if (v.type != jbvString)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("hyperparameter \"%s\" must be a string", key)));
					s = pnstrdup(v.val.string.val, v.val.string.len);
					if (strcmp(s, gbdt ? "reg:squarederror" : "squared_error") == 0)
						hp->tree_task = TREE_TASK_REGRESSION;
					else if (gbdt && strcmp(s, "binary:logistic") == 0)
						hp->tree_task = TREE_TASK_BINARY;
					else if (gbdt && (strcmp(s, "multi:softprob") == 0 ||
									  strcmp(s, "multi:softmax") == 0))
						hp->tree_task = TREE_TASK_MULTICLASS;
					else if (!gbdt && strcmp(s, "gini") == 0)
						hp->tree_task = TREE_TASK_MULTICLASS;
					else
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("unknown %s \"%s\"", key, s),
								 errhint(gbdt ? "One of reg:squarederror, binary:logistic, multi:softprob." :
										 "One of gini (classification), squared_error (regression).")));
				}
				break;
			case HP_IMPUTE:
				{
					char	   *s;

					if (v.type != jbvString)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("hyperparameter \"impute\" must be a string"),
								 errhint("One of mean, median, most_frequent, error; and none for gbdt and random_forest.")));
					s = pnstrdup(v.val.string.val, v.val.string.len);
					if (strcmp(s, "mean") == 0)
						hp->impute = IMPUTE_MEAN;
					else if (strcmp(s, "median") == 0)
						hp->impute = IMPUTE_MEDIAN;
					else if (strcmp(s, "most_frequent") == 0)
						hp->impute = IMPUTE_MOST_FREQUENT;
					else if (strcmp(s, "error") == 0)
						hp->impute = IMPUTE_ERROR;
					else if (strcmp(s, "none") == 0)
					{
						if (!(A(algorithm) & TREES))
							ereport(ERROR,
									(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
									 errmsg("imputation \"none\" needs an algorithm that handles missing values"),
									 errhint("Only gbdt and random_forest route missing values themselves; choose mean, median, most_frequent or error.")));
						hp->impute = IMPUTE_NONE;
					}
					else
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("unknown imputation strategy \"%s\"", s),
								 errhint("One of mean, median, most_frequent, error; and none for gbdt and random_forest.")));
				}
				break;
		}
	}
}

/* Is name a hyperparameter of algorithm?  Else an error listing the known ones. */
void
HyperParamCheckName(AlgorithmId algorithm, const char *name)
{
	for (int i = 0; i < lengthof(specs); i++)
		if (strcmp(specs[i].name, name) == 0 && (specs[i].algorithms & A(algorithm)))
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown hyperparameter \"%s\" for algorithm %s", name,
					AlgorithmName(algorithm)),
			 errhint("Known hyperparameters of %s: %s.", AlgorithmName(algorithm),
					 known_list(algorithm))));
}

/* The effective hyperparameters, defaults included, as stored with the model. */
char *
HyperParamsJson(AlgorithmId algorithm, const HyperParams *hp)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < lengthof(specs); i++)
	{
		const HpSpec *spec = &specs[i];
		const char *field = (const char *) hp + spec->offset;

		if (!(spec->algorithms & A(algorithm)))
			continue;
		if (buf.len > 1)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "\"%s\": ", spec->name);
		switch (spec->kind)
		{
			case HP_BOOL:
				appendStringInfoString(&buf, *(const bool *) field ? "true" : "false");
				break;
			case HP_NUMBER:
				appendStringInfo(&buf, "%.17g", *(const double *) field);
				break;
			case HP_INT:
				if (spec->offset == offsetof(HyperParams, n_components) && hp->n_components == 0)
					appendStringInfoString(&buf, "null");
				else
					appendStringInfo(&buf, "%d", *(const int *) field);
				break;
			case HP_IMPUTE:
				appendStringInfo(&buf, "\"%s\"", ImputeName(hp->impute));
				break;
			case HP_INT_OR_NULL:
				if (*(const int *) field == 0)
					appendStringInfoString(&buf, "null");
				else
					appendStringInfo(&buf, "%d", *(const int *) field);
				break;
			case HP_OBJECTIVE:
				appendStringInfoString(&buf,
									   hp->tree_task == TREE_TASK_REGRESSION ? "\"reg:squarederror\"" :
									   hp->tree_task == TREE_TASK_BINARY ? "\"binary:logistic\"" :
									   hp->tree_task == TREE_TASK_MULTICLASS ? "\"multi:softprob\"" : "null");
				break;
			case HP_CRITERION:
				appendStringInfoString(&buf,
									   hp->tree_task == TREE_TASK_REGRESSION ? "\"squared_error\"" :
									   hp->tree_task == TREE_TASK_UNSET ? "null" : "\"gini\"");
				break;
			case HP_MAX_FEATURES:
				{
					double		m = *(const double *) field;

					if (m == MAX_FEATURES_SQRT || m == MAX_FEATURES_UNSET)
						appendStringInfoString(&buf, "\"sqrt\"");
					else if (m == MAX_FEATURES_LOG2)
						appendStringInfoString(&buf, "\"log2\"");
					else
						appendStringInfo(&buf, "%.17g", m);
				}
				break;
		}
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
