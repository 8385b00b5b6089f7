/*-------------------------------------------------------------------------
 *
 * space.c
 *	  Reading a tune() search space from jsonb, and writing a point of it
 *	  back as hyperparameters.
 *
 * The numerics of the search (src/algorithms/search.c) see only numbers:
 * a CHOICE is an index.  This file keeps the JSON text of every choice so
 * that a chosen "gini", true or 0.10 goes back into the hyperparameters
 * exactly as the user wrote it, and HyperParamsParse() then checks it as
 * it checks any hyperparameter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "lib/stringinfo.h"
#include "tune/space.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"

#define SPACE_HINT \
	"Give each hyperparameter a list of values such as [3, 6, 9], or a range: " \
	"{\"uniform\": [low, high]}, {\"log_uniform\": [low, high]} with 0 < low, " \
	"or {\"int\": [low, high]} with whole-number ends."

/* whole numbers beyond this lose exactness as doubles */
#define SPACE_INT_LIMIT 9007199254740992.0	/* 2^53 */

/*
 * A jsonb number as a double, +-inf when beyond double's range (instead of
 * numeric_float8's error, which could not say which entry is at fault).
 */
static double
NumericToDouble(Numeric num)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));

	return strtod(text, NULL);
}

/*
 * A list of choices.  Duplicates are refused: grid search would run them
 * twice and TPE would count them twice, and they are surely a typo.
 */
static void
ParseChoices(const char *key, JsonbContainer *array, SearchDim *dim)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = JsonContainerSize(array);
	int			i = 0;

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search space entry \"%s\" lists no values", key),
				 errhint(SPACE_HINT)));

	dim->kind = SEARCH_CHOICE;
	dim->nchoices = n;
	dim->choices = palloc(sizeof(char *) * n);
	dim->choice_values = palloc(sizeof(double) * n);
	dim->numeric_choices = true;

	it = JsonbIteratorInit(array);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		StringInfoData buf;

		if (tok != WJB_ELEM)
			continue;
		if (i >= n)
			elog(ERROR, "jsonb array of \"%s\" longer than its header says", key);
		initStringInfo(&buf);
		dim->choice_values[i] = 0;
		switch (v.type)
		{
			case jbvNumeric:
				appendStringInfoString(&buf,
									   DatumGetCString(DirectFunctionCall1(numeric_out,
																		   NumericGetDatum(v.val.numeric))));
				dim->choice_values[i] = NumericToDouble(v.val.numeric);
				break;
			case jbvString:
				escape_json(&buf, pnstrdup(v.val.string.val, v.val.string.len));
				dim->numeric_choices = false;
				break;
			case jbvBool:
				appendStringInfoString(&buf, v.val.boolean ? "true" : "false");
				dim->numeric_choices = false;
				break;
			case jbvNull:
				appendStringInfoString(&buf, "null");
				dim->numeric_choices = false;
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("value %d of search space entry \"%s\" is not a number, string, boolean or null",
								i + 1, key),
						 errhint(SPACE_HINT)));
		}
		dim->choices[i] = buf.data;
		for (int j = 0; j < i; j++)
		{
			bool		same = strcmp(dim->choices[j], buf.data) == 0;

			/* 3 and 3.0 are the same number, written twice */
			if (v.type == jbvNumeric && dim->numeric_choices &&
				isfinite(dim->choice_values[i]) &&
				dim->choice_values[j] == dim->choice_values[i])
				same = true;
			if (same)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("search space entry \"%s\" lists %s twice", key, buf.data),
						 errhint("List each value once.")));
		}
		i++;
	}
	if (i != n)
		elog(ERROR, "jsonb array of \"%s\" shorter than its header says", key);
	if (!dim->numeric_choices)
	{
		pfree(dim->choice_values);
		dim->choice_values = NULL;
	}
}

/*
 * {"uniform" | "log_uniform" | "int": [low, high]}: one key, two numbers,
 * and the constraints that make each distribution meaningful.
 */
static void
ParseRange(const char *key, JsonbContainer *object, SearchDim *dim)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *kind = NULL;
	JsonbContainer *ends = NULL;
	double		bounds[2];
	int			i = 0;

	if (JsonContainerSize(object) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search space entry \"%s\" must be an object with exactly one of \"uniform\", \"log_uniform\" or \"int\"",
						key),
				 errhint(SPACE_HINT)));

	it = JsonbIteratorInit(object);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			kind = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
				ends = v.val.binary.data;
		}
	}
	if (kind == NULL)
		elog(ERROR, "jsonb object of \"%s\" without a key", key);

	if (strcmp(kind, "uniform") == 0)
		dim->kind = SEARCH_UNIFORM;
	else if (strcmp(kind, "log_uniform") == 0)
		dim->kind = SEARCH_LOG_UNIFORM;
	else if (strcmp(kind, "int") == 0)
		dim->kind = SEARCH_INT;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown range \"%s\" in search space entry \"%s\"", kind, key),
				 errhint(SPACE_HINT)));

	if (ends == NULL || JsonContainerSize(ends) != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s range of search space entry \"%s\" must be an array of two numbers [low, high]",
						kind, key),
				 errhint(SPACE_HINT)));
	it = JsonbIteratorInit(ends);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvNumeric || i >= 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the %s range of search space entry \"%s\" must be an array of two numbers [low, high]",
							kind, key),
					 errhint(SPACE_HINT)));
		bounds[i++] = NumericToDouble(v.val.numeric);
	}
	if (i != 2)
		elog(ERROR, "jsonb array of \"%s\" shorter than its header says", key);
	dim->low = bounds[0];
	dim->high = bounds[1];

	if (!isfinite(dim->low) || !isfinite(dim->high))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s range of search space entry \"%s\" is beyond double precision",
						kind, key),
				 errhint(SPACE_HINT)));
	if (!(dim->low < dim->high))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s range of search space entry \"%s\" must have low < high (got [%g, %g])",
						kind, key, dim->low, dim->high),
				 errhint("To fix a hyperparameter at one value, pass it in hyperparams or list it alone: [%g].",
						 dim->low)));
	if (dim->kind == SEARCH_LOG_UNIFORM && !(dim->low > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the log_uniform range of search space entry \"%s\" must be positive (got low %g)",
						key, dim->low),
				 errhint("Use {\"uniform\": [%g, %g]} for a range that includes zero.",
						 dim->low, dim->high)));
	if (dim->kind == SEARCH_INT &&
		(dim->low != floor(dim->low) || dim->high != floor(dim->high) ||
		 fabs(dim->low) > SPACE_INT_LIMIT || fabs(dim->high) > SPACE_INT_LIMIT))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the int range of search space entry \"%s\" must have whole-number ends (got [%g, %g])",
						key, dim->low, dim->high),
				 errhint("Use {\"uniform\": [%g, %g]} for real values.", dim->low, dim->high)));
}

/*
 * Read the search space.  The walk is over the top-level object only, with
 * nested containers handed to ParseChoices/ParseRange, so each error can
 * name the hyperparameter it is about.
 */
SearchSpace *
SearchSpaceParse(Jsonb *json)
{
	SearchSpace *space;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	int			n;

	if (json == NULL || !JB_ROOT_IS_OBJECT(json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search_space must be a JSON object"),
				 errhint("For example '{\"max_depth\": [3, 6, 9], \"learning_rate\": {\"log_uniform\": [0.01, 0.3]}}'.")));
	n = JB_ROOT_COUNT(json);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search_space names no hyperparameters"),
				 errhint(SPACE_HINT)));

	space = palloc0(sizeof(SearchSpace));
	space->dims = palloc0(sizeof(SearchDim) * n);

	it = JsonbIteratorInit(&json->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		SearchDim  *dim;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (key == NULL || space->ndims >= n)
			elog(ERROR, "unexpected jsonb layout in search_space");
		dim = &space->dims[space->ndims];
		dim->name = key;
		if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
			ParseChoices(key, v.val.binary.data, dim);
		else if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
			ParseRange(key, v.val.binary.data, dim);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("search space entry \"%s\" must be a list of values or a range object",
							key),
					 errhint(SPACE_HINT)));
		space->ndims++;
		key = NULL;
	}
	if (space->ndims != n)
		elog(ERROR, "search_space has %d entries, %d expected", space->ndims, n);
	return space;
}

/*
 * The point as JSON text.  Values come from the search code, so a value
 * out of its dimension's range is an internal error, not the user's.
 */
char *
SearchPointJson(const SearchSpace *space, const double *point)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int d = 0; d < space->ndims; d++)
	{
		const SearchDim *dim = &space->dims[d];
		double		x = point[d];

		if (d > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, dim->name);
		appendStringInfoString(&buf, ": ");
		switch (dim->kind)
		{
			case SEARCH_CHOICE:
				if (!(x >= 0 && x < dim->nchoices) || x != floor(x))
					elog(ERROR, "choice %g of \"%s\" out of range", x, dim->name);
				appendStringInfoString(&buf, dim->choices[(int) x]);
				break;
			case SEARCH_INT:
				if (!(x >= dim->low && x <= dim->high) || x != floor(x))
					elog(ERROR, "value %g of \"%s\" is not an integer of its range", x, dim->name);
				appendStringInfo(&buf, "%lld", (long long) x);
				break;
			case SEARCH_UNIFORM:
			case SEARCH_LOG_UNIFORM:
				if (!isfinite(x))
					elog(ERROR, "value %g of \"%s\" is not finite", x, dim->name);
				appendStringInfo(&buf, "%.17g", x);
				break;
		}
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
