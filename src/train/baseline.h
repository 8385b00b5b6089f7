/*-------------------------------------------------------------------------
 *
 * baseline.h
 *	  A model's drift baseline: per raw feature a summary of its training
 *	  distribution (algorithms/sketch.h), and one of the model's
 *	  predictions, stored in models.baseline and read by drift().
 *
 * What the rows are (train/baseline.c builds it from what a fit holds):
 *	- the in-memory algorithms (fit_memory.c): every training row, as
 *	  loaded, before standardization; numeric NULLs are already imputed
 *	  there (a tree's kept missing values stay missing);
 *	- the one-pass algorithms (fit_stream.c): the held-out test rows the
 *	  scan keeps for the metrics, a random sample of the same
 *	  distribution.  Least squares sums most test rows' errors instead of
 *	  keeping them (algorithms/abserr.h), so its baseline is the test rows
 *	  it kept, mostly those seen before the first pilot fit; naive Bayes
 *	  with test_size 0 keeps (and summarizes) every training row; least
 *	  squares with test_size 0 and PCA keep none: no baseline.
 * A row's sample hash is SketchHash64 of its position among those rows.
 * A categorical feature is summarized by level: the one-hot column that
 * is 1; all zeros is NULL or unseen (missing), or with drop_first the
 * reference level.
 *
 * Predictions: regression, a NumSketch of predict(); classification, a
 * CatSketch of the predicted class label; clustering, a CatSketch of the
 * cluster number; decomposition, none.
 *
 * Serialized form (little-endian): "AIFB", version, flags, rows, feature
 * count, then per feature: name length and bytes, kind byte, sketch
 * length and bytes; then the prediction kind byte (0 none) and its sketch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_BASELINE_H
#define AIF_BASELINE_H

#include "postgres.h"

#include "algorithms/sketch.h"
#include "core/model.h"

typedef struct BaselineFeature
{
	char	   *name;
	FeatureKind kind;
	NumSketch  *num;			/* FEATURE_NUMERIC */
	CatSketch  *cat;			/* FEATURE_CATEGORICAL */
} BaselineFeature;

typedef struct Baseline
{
	bool		from_test_rows; /* built on held-out rows (one-pass fits) */
	int64		rows;			/* rows summarized */
	int			nfeatures;
	BaselineFeature *features;
	int			pred_kind;		/* 0 none, or a FeatureKind */
	NumSketch  *pred_num;
	CatSketch  *pred_cat;
} Baseline;

/* The kind of prediction summary a model has (0: none). */
extern int	BaselinePredictionKind(const Model *model);

/* Build: features of one design row, and the model's prediction on it. */
extern Baseline *BaselineCreate(const Model *model, bool from_test_rows);
extern Baseline *BaselineCreateSized(const Model *model, bool from_test_rows, int k,
									 bool moments);
extern void BaselineAddRow(Baseline *b, const Model *model, const double *design,
						   int64 position);
extern void BaselineAddPrediction(Baseline *b, const Model *model,
								  const double *design, int64 position);

/*
 * The prediction of a model on an encoded row, into a summary of kind
 * BaselinePredictionKind (shared by training and drift()).
 */
extern void BaselinePredict(const Model *model, const double *design,
							NumSketch *num, CatSketch *cat, uint64 hash);

extern bytea *BaselineSerialize(const Baseline *b);
extern Baseline *BaselineDeserialize(const bytea *bytes);

#endif							/* AIF_BASELINE_H */
