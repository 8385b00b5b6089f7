/*-------------------------------------------------------------------------
 *
 * preprocess.c
 *	  Type conversion, imputation and one-hot encoding of raw inputs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "core/preprocess.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

bool
TypeIsNumericFeature(Oid typid)
{
	switch (typid)
	{
		case FLOAT8OID:
		case FLOAT4OID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

bool
TypeIsCategoricalFeature(Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case CHAROID:
			return true;
		default:
			return type_is_enum(typid);
	}
}

void
InputColumnInit(InputColumn *col, Oid typid, MemoryContext mcxt)
{
	col->typid = typid;
	switch (typid)
	{
		case FLOAT8OID:
			col->conv = CONV_FLOAT8;
			break;
		case FLOAT4OID:
			col->conv = CONV_FLOAT4;
			break;
		case INT2OID:
			col->conv = CONV_INT2;
			break;
		case INT4OID:
			col->conv = CONV_INT4;
			break;
		case INT8OID:
			col->conv = CONV_INT8;
			break;
		case NUMERICOID:
			col->conv = CONV_NUMERIC;
			break;
		case BOOLOID:
			col->conv = CONV_BOOL;
			break;
		case TEXTOID:
		case VARCHAROID:
			col->conv = CONV_TEXT;
			break;
		default:
			{
				Oid			outfn;
				bool		isvarlena;

				col->conv = CONV_OUTPUT;
				getTypeOutputInfo(typid, &outfn, &isvarlena);
				fmgr_info_cxt(outfn, &col->outfn, mcxt);
			}
			break;
	}
}

double
InputToDouble(const InputColumn *col, Datum value)
{
	switch (col->conv)
	{
		case CONV_FLOAT8:
			return DatumGetFloat8(value);
		case CONV_FLOAT4:
			return (double) DatumGetFloat4(value);
		case CONV_INT2:
			return (double) DatumGetInt16(value);
		case CONV_INT4:
			return (double) DatumGetInt32(value);
		case CONV_INT8:
			return (double) DatumGetInt64(value);
		case CONV_NUMERIC:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													  value));
		default:
			elog(ERROR, "input of type %u is not numeric", col->typid);
	}
	return 0.0;					/* keep compiler quiet */
}

/*
 * The string a categorical value is known by.  Booleans read "true" and
 * "false", as in SQL's boolean-to-text cast; text is taken as it is.
 */
const char *
InputToString(InputColumn *col, Datum value, int *len)
{
	switch (col->conv)
	{
		case CONV_BOOL:
			if (DatumGetBool(value))
			{
				*len = 4;
				return "true";
			}
			*len = 5;
			return "false";
		case CONV_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				*len = VARSIZE_ANY_EXHDR(t);
				return VARDATA_ANY(t);
			}
		case CONV_OUTPUT:
			{
				char	   *s = OutputFunctionCall(&col->outfn, value);

				*len = strlen(s);
				return s;
			}
		case CONV_INT2:
		case CONV_INT4:
			*len = pg_ltoa(col->conv == CONV_INT2 ? DatumGetInt16(value) : DatumGetInt32(value),
						   col->numbuf);
			return col->numbuf;
		case CONV_INT8:
			*len = pg_lltoa(DatumGetInt64(value), col->numbuf);
			return col->numbuf;
		default:
			/*
			 * A number as a label: its shortest exact text, as float8out
			 * prints it (1 for 1.0, 0.1 for 0.1).
			 */
			{
				double		v = InputToDouble(col, value);

				if (v == 0.0)
					v = 0.0;	/* -0 and 0 are one label, as they are equal */
				*len = double_to_shortest_decimal_buf(v, col->numbuf);
				return col->numbuf;
			}
	}
}

/* Bytewise order of levels, the order they are stored in. */
int
CompareLevels(const void *a, const void *b)
{
	const char *sa = *(const char *const *) a;
	const char *sb = *(const char *const *) b;

	return strcmp(sa, sb);
}

/*
 * Binary search for a level; -1 when unseen.
 */
int
LevelIndex(const FeatureSpec *f, const char *s, int len)
{
	int			lo = 0;
	int			hi = f->nlevels - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const char *level = f->levels[mid];
		int			cmp = strncmp(level, s, len);

		if (cmp == 0)
			cmp = (level[len] == '\0') ? 0 : 1;
		if (cmp == 0)
			return mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* A model trained with impute = error has no value for a missing feature. */
void
NullFeatureError(const FeatureSpec *f)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("feature \"%s\" is NULL", f->name),
			 errhint("The model was trained with impute \"error\", so it has no value for a missing feature.")));
}

void
CheckFinite(double v, const char *what)
{
	if (unlikely(isnan(v) || isinf(v)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s contains %s", what,
						isnan(v) ? "NaN" : "Infinity"),
				 errhint("Filter such rows out or replace the values, for example with NULL, which is imputed.")));
}

void
EncodeFeature(const FeatureSpec *f, InputColumn *col, Datum value,
			  bool isnull, double *design)
{
	double	   *out = design + f->design_offset;

	if (f->kind == FEATURE_NUMERIC)
	{
		if (isnull)
		{
			if (unlikely(isnan(f->impute)) && !f->keep_missing)
				NullFeatureError(f);
			*out = f->impute;
		}
		else
		{
			double		v = InputToDouble(col, value);

			if (unlikely(isnan(v) || isinf(v)))
				CheckFinite(v, psprintf("feature \"%s\"", f->name));
			*out = v;
		}
		return;
	}

	if (isnull)
		EncodeCategorical(f, true, NULL, 0, design);
	else
	{
		int			len;
		const char *s = InputToString(col, value, &len);

		EncodeCategorical(f, false, s, len, design);
	}
}

/* One-hot columns of a categorical value; NULL and unseen are all zeros. */
void
EncodeCategorical(const FeatureSpec *f, bool isnull, const char *s, int len,
				  double *design)
{
	double	   *out = design + f->design_offset;
	int			idx;

	for (int j = 0; j < f->ncols; j++)
		out[j] = 0.0;
	if (isnull)
		return;
	idx = LevelIndex(f, s, len);
	if (f->drop_first)
		idx--;
	if (idx >= 0)
		out[idx] = 1.0;
}

char *
DesignColumnName(const Model *model, int j)
{
	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		if (j >= f->design_offset && j < f->design_offset + f->ncols)
		{
			if (f->kind == FEATURE_NUMERIC)
				return f->name;
			return psprintf("%s=%s", f->name,
							f->levels[j - f->design_offset + (f->drop_first ? 1 : 0)]);
		}
	}
	return "?";
}
