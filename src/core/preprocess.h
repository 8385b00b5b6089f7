/*-------------------------------------------------------------------------
 *
 * preprocess.h
 *	  From raw column values to a model's design row: type conversion,
 *	  imputation and one-hot encoding.  Training and prediction share this
 *	  code so that a value is encoded the same way on both sides.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PREPROCESS_H
#define AIF_PREPROCESS_H

#include "postgres.h"

#include "core/model.h"
#include "fmgr.h"

typedef enum InputConv
{
	CONV_FLOAT8,
	CONV_FLOAT4,
	CONV_INT2,
	CONV_INT4,
	CONV_INT8,
	CONV_NUMERIC,
	CONV_BOOL,
	CONV_TEXT,					/* text, varchar: the bytes as they are */
	CONV_OUTPUT					/* anything else categorical: output function */
} InputConv;

/* How to read one input column of a given SQL type. */
typedef struct InputColumn
{
	Oid			typid;
	InputConv	conv;
	FmgrInfo	outfn;			/* CONV_OUTPUT only */
	char		numbuf[40];		/* a number's text form (class labels) */
} InputColumn;

extern bool TypeIsNumericFeature(Oid typid);
extern bool TypeIsCategoricalFeature(Oid typid);
extern void InputColumnInit(InputColumn *col, Oid typid, MemoryContext mcxt);

extern double InputToDouble(const InputColumn *col, Datum value);
/* The common case inline: a float8 column. */
static inline double
InputToDoubleFast(const InputColumn *col, Datum value)
{
	if (likely(col->conv == CONV_FLOAT8))
		return DatumGetFloat8(value);
	return InputToDouble(col, value);
}

extern const char *InputToString(InputColumn *col, Datum value, int *len);

extern int	LevelIndex(const FeatureSpec *f, const char *s, int len);
extern int	CompareLevels(const void *a, const void *b);

/*
 * Encode one feature's value into the design row.  `isnull` numeric
 * values take the feature's imputation value; NULL or unseen categories
 * encode as all zeros.  NaN and infinity are rejected with the feature
 * named.
 */
extern void EncodeFeature(const FeatureSpec *f, InputColumn *col,
						  Datum value, bool isnull, double *design);

extern void EncodeCategorical(const FeatureSpec *f, bool isnull,
							  const char *s, int len, double *design);

extern void CheckFinite(double v, const char *what);
extern void NullFeatureError(const FeatureSpec *f);

/* A design column's name: the feature, or "feature=level" for one-hot. */
extern char *DesignColumnName(const Model *model, int j);

#endif							/* AIF_PREPROCESS_H */
