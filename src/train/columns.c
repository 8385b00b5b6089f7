/*-------------------------------------------------------------------------
 *
 * columns.c
 *	  From a source's columns to a model's inputs: the target, the
 *	  features and their kinds, the layout of the design columns, the
 *	  categories and class labels found by the profile.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "core/preprocess.h"
#include "core/source.h"
#include "train/train_internal.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

bool
HasCategoricalFeatures(const Model *model)
{
	for (int i = 0; i < model->pre.nfeatures; i++)
		if (model->pre.features[i].kind == FEATURE_CATEGORICAL)
			return true;
	return false;
}

/*
 * Decide the features and their kinds from the source's columns, check
 * the target, and write the query that feeds the training passes.
 */
void
ResolveColumns(TrainRun *run, TupleDesc desc, ArrayType *features)
{
	Model	   *model = run->model;
	int			tcol = -1;
	int		   *cols;
	int			n = 0;

	if (run->target != NULL)
	{
		Oid			ttype;

		tcol = SourceColumn(desc, run->target);
		if (tcol < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target column \"%s\" does not exist in the source", run->target),
					 errhint("Columns of the source: %s.", SourceColumnList(desc))));
		ttype = TupleDescAttr(desc, tcol)->atttypid;
		if (run->task == TASK_REGRESSION && !TypeIsNumericFeature(ttype))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("target column \"%s\" is of type %s, but %s regression needs a numeric target",
							run->target, format_type_be(ttype), AlgorithmName(run->algorithm)),
					 errhint("Cast the target to a number in a SELECT source, or use a classifier such as logistic.")));
		if (run->task == TASK_CLASSIFICATION)
		{
			if (!TypeIsNumericFeature(ttype) && !TypeIsCategoricalFeature(ttype))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("target column \"%s\" is of type %s, which cannot hold class labels",
								run->target, format_type_be(ttype)),
						 errhint("Class labels are numbers, booleans, text or enums.")));
			model->label_kind = ttype == BOOLOID ? LABEL_BOOL :
				TypeIsNumericFeature(ttype) ? LABEL_NUMBER : LABEL_TEXT;
		}
		model->target = MemoryContextStrdup(model->mcxt, run->target);
	}
	else
		model->target = MemoryContextStrdup(model->mcxt, "");

	cols = palloc(sizeof(int) * Max(desc->natts, 1));
	if (features != NULL)
	{
		Datum	   *names;
		bool	   *nulls;
		int			nnames;

		deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT,
						  &names, &nulls, &nnames);
		cols = repalloc(cols, sizeof(int) * Max(nnames, 1));
		for (int i = 0; i < nnames; i++)
		{
			char	   *name;
			int			c;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature names must not be NULL")));
			name = TextDatumGetCString(names[i]);
			c = SourceColumn(desc, name);
			if (c < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("feature column \"%s\" does not exist in the source", name),
						 errhint("Columns of the source: %s.", SourceColumnList(desc))));
			if (c == tcol)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is the target and cannot also be a feature", name),
						 errhint("Leave it out of the features list.")));
			for (int j = 0; j < n; j++)
				if (cols[j] == c)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("feature column \"%s\" is listed twice", name),
							 errhint("List each feature once.")));
			cols[n++] = c;
		}
	}
	else
	{
		for (int c = 0; c < desc->natts; c++)
			if (c != tcol && !TupleDescAttr(desc, c)->attisdropped)
				cols[n++] = c;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features to train on"),
				 errhint("The source needs at least one column besides the target.")));

	model->pre.nfeatures = n;
	model->pre.features = MemoryContextAllocZero(model->mcxt, sizeof(FeatureSpec) * n);
	for (int i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, cols[i]);
		FeatureSpec *f = &model->pre.features[i];

		f->name = MemoryContextStrdup(model->mcxt, NameStr(att->attname));
		f->type_name = MemoryContextStrdup(model->mcxt, format_type_be(att->atttypid));
		if (TypeIsNumericFeature(att->atttypid))
			f->kind = FEATURE_NUMERIC;
		else if (TypeIsCategoricalFeature(att->atttypid))
			f->kind = FEATURE_CATEGORICAL;
		else
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is of type %s, which cannot be a feature",
							f->name, f->type_name),
					 errhint("Features are numbers, booleans, text or enums: cast the column in a SELECT source, or list the features to use.")));
	}

	/*
	 * The pass query, and the same columns as a query's own (for a load
	 * read straight from a table): target first (a constant for the
	 * unsupervised tasks), then the features, by name.
	 */
	{
		StringInfoData cols;

		initStringInfo(&cols);
		if (run->target != NULL)
			appendStringInfo(&cols, "s.%s", quote_identifier(run->target));
		else
			appendStringInfoString(&cols, "0::pg_catalog.float8");
		for (int i = 0; i < n; i++)
			appendStringInfo(&cols, ", s.%s", quote_identifier(model->pre.features[i].name));
		run->pass_sql = psprintf("SELECT aifactory._train_pass($1, %s) FROM %s AS s",
								 cols.data, run->from);
		run->rows_sql = psprintf("SELECT %s FROM %s AS s", cols.data, run->from);
	}
}

/*
 * Lay out the design columns once levels are known.  Ordinary least
 * squares with an intercept cannot identify a full set of dummies, so
 * there the first level of each categorical feature becomes the
 * reference; every other algorithm keeps every level, as a one-hot
 * pipeline in scikit-learn would.
 */
void
LayoutDesign(TrainRun *run)
{
	Model	   *model = run->model;
	int			offset = 0;
	bool		first_full = !run->hp.intercept;

	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		f->design_offset = offset;
		if (f->kind == FEATURE_NUMERIC)
			f->ncols = 1;
		else
		{
			f->drop_first = model->algorithm == ALGO_LINEAR && !first_full;
			if (model->algorithm == ALGO_LINEAR && first_full)
				first_full = false;
			f->ncols = f->nlevels - ((f->drop_first && f->nlevels > 0) ? 1 : 0);
		}
		offset += f->ncols;
	}
	model->pre.ndesign = offset;
}

static char **
dict_keys(LevelDict *d, MemoryContext mcxt)
{
	char	  **keys = MemoryContextAlloc(mcxt, sizeof(char *) * Max(d->nentries, 1));
	int			k = 0;

	for (int s = 0; s < d->capacity; s++)
		if (d->keys[s])
			keys[k++] = MemoryContextStrdup(mcxt, d->keys[s]);
	return keys;
}

static int
compare_numeric_labels(const void *a, const void *b)
{
	double		x = strtod(*(const char *const *) a, NULL);
	double		y = strtod(*(const char *const *) b, NULL);

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The class labels of a classification, in natural order. */
void
ApplyClasses(TrainRun *run, LevelDict *d)
{
	Model	   *model = run->model;

	if (d->overflow)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("target column \"%s\" has more than %d classes", run->target,
						PASS_MAX_LEVELS),
				 errhint("Is it really a class label? A numeric target can be regressed instead.")));
	if (d->nentries < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("target column \"%s\" has a single class", run->target),
				 errdetail("Every row with a target has the label \"%s\".",
						   d->nentries == 1 ? dict_keys(d, CurrentMemoryContext)[0] : ""),
				 errhint("A classifier needs at least two classes.")));
	model->nclasses = d->nentries;
	model->classes = dict_keys(d, model->mcxt);
	qsort(model->classes, model->nclasses, sizeof(char *),
		  model->label_kind == LABEL_NUMBER ? compare_numeric_labels : CompareLevels);
}

/*
 * Levels, class labels and imputation means out of a profile (or of a
 * first one-pass scan that found NULLs).
 */
void
ApplyProfile(TrainRun *run, PassState *st, bool levels)
{
	Model	   *model = run->model;

	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		if (f->kind == FEATURE_NUMERIC)
		{
			if (st->nonnull[i] == 0)
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("feature \"%s\" is NULL in every training row", f->name),
						 errhint("Leave it out with features => ARRAY[...].")));
			f->impute = st->sum[i] / st->nonnull[i];
		}
		else if (levels)
		{
			LevelDict  *d = st->dicts[i];

			if (d->overflow)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("feature \"%s\" has more than %d distinct values", f->name,
								PASS_MAX_LEVELS),
						 errhint("One-hot encoding that many levels is not useful: group rare values, or leave the column out.")));
			f->nlevels = d->nentries;
			f->levels = dict_keys(d, model->mcxt);
			qsort(f->levels, f->nlevels, sizeof(char *), CompareLevels);
		}
	}
	if (levels && st->target_dict)
		ApplyClasses(run, st->target_dict);
}
