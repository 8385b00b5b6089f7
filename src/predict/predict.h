/*-------------------------------------------------------------------------
 *
 * predict.h
 *	  What the SQL functions that apply a model share: the model resolved
 *	  once per statement (fn_extra) and the design row of a call.
 *
 *	  predict.c		predict, predict_proba, predict_class, transform
 *	  explain.c		explain (TreeSHAP contributions)
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PREDICT_H
#define AIF_PREDICT_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "core/model.h"
#include "core/preprocess.h"
#include "fmgr.h"

typedef struct PredictCache
{
	char	   *project;
	int			version;		/* 0: the deployed one */
	int64		model_id;
	Model	   *model;
	uint64		generation;
	double	   *label_values;	/* classification: each label as a number */
	double	   *out;			/* probabilities or projections */
	uint64		deploy_generation;	/* DeploymentGeneration when resolved */
	TimestampTz stmt_start;		/* statement that last checked for invalidations */
	double	   *design;
	bool		numeric_only;	/* design columns are the features, in order */

	/* row form: mapping of the row type to features */
	Oid			tuptype;
	int32		tuptypmod;
	int			natts;
	TupleDesc	desc;			/* a copy, in fn_mcxt */
	int		   *attnum;			/* per feature: 0-based column */
	InputColumn *cols;			/* per feature */
	Datum	   *values;
	bool	   *nulls;
} PredictCache;

/*
 * The model and the encoded design row of a call f(project, features),
 * f(project, version, features), features a float8[] or a row.
 */
extern const double *PredictCallDesign(FunctionCallInfo fcinfo, bool versioned, bool row,
									   PredictCache **pcp);

/*
 * The same with the cache in *slot (allocated in mcxt) instead of fn_extra:
 * for the keyed forms (serve/keyed.c), which keep one per routed version.
 * version 0 is the deployed model.
 */
extern const double *PredictSlotDesign(MemoryContext mcxt, PredictCache **slot,
									   text *project, int version, Datum features,
									   bool row);

/* The error of predict_proba()/predict_class() on a model that does not classify. */
extern void PredictRequireClassifier(PredictCache *pc, const char *function);

/* The error of predict() on a classifier whose labels are text. */
extern void PredictTextLabelsError(PredictCache *pc) pg_attribute_noreturn();

/* v[0 .. n-1] as a float8[] datum. */
extern Datum PredictFloat8Array(const double *v, int n);

#endif							/* AIF_PREDICT_H */
