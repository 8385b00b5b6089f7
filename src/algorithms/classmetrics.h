/*-------------------------------------------------------------------------
 *
 * classmetrics.h
 *	  Classification metrics as scikit-learn 1.2 defines them.
 *
 * Accuracy and the macro-averaged precision, recall and F1 come from a
 * confusion matrix that is filled row by row and merges by addition, so
 * parallel workers can each fill one.  The macro average runs over the
 * classes present in the labels or in the predictions (sklearn's
 * labels=None); a class never predicted has precision 0 and a class
 * absent from the labels has recall 0 (sklearn's zero_division default).
 *
 * ROC AUC (binary) needs every score at once; it is the Mann-Whitney
 * statistic with ties counted one half, which equals sklearn's
 * roc_auc_score.  Log loss is a sum that merges by addition.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_CLASSMETRICS_H
#define AIF_CLASSMETRICS_H

#include "postgres.h"

#include <float.h>

/* 4096^2 counts of 8 bytes: 128 MB */
#define CLASS_CONFUSION_MAX_CLASSES 4096

/*
 * Probabilities are clipped to [eps, 1 - eps] before the log, eps being
 * the machine epsilon of double: scikit-learn 1.2's log_loss default
 * (eps="auto"; releases before 1.2 used 1e-15).
 */
#define CLASS_LOG_LOSS_EPS	DBL_EPSILON

typedef struct ClassConfusion
{
	int			nclasses;
	int64	   *counts;			/* nclasses x nclasses, row-major:
								 * counts[truth * nclasses + predicted] */
} ClassConfusion;

typedef struct ClassMetrics
{
	int64		n;				/* rows counted */
	int			nlabels;		/* classes present in labels or predictions:
								 * the macro averages' denominator */
	double		accuracy;		/* NaN when n == 0 */
	double		precision;		/* macro averages */
	double		recall;
	double		f1;
} ClassMetrics;

typedef struct LogLossState
{
	double		sum;			/* sum of -log(clipped probability of the
								 * true class) */
	int64		n;
} LogLossState;

extern ClassConfusion *ClassConfusionCreate(int nclasses);
extern void ClassConfusionFree(ClassConfusion *cm);

/* Count one row; both classes must be in 0..nclasses-1. */
extern void ClassConfusionAdd(ClassConfusion *cm, int truth, int predicted);

/* into += from (the combine step of a parallel aggregate). */
extern void ClassConfusionMerge(ClassConfusion *into, const ClassConfusion *from);

/*
 * Serialized form: an array of int64, native byte order, no alignment
 * assumed: nclasses, then the counts in the order of counts[].
 */
extern Size ClassConfusionSerializedSize(int nclasses);
extern void ClassConfusionSerialize(const ClassConfusion *cm, char *dst);
extern ClassConfusion *ClassConfusionDeserialize(const char *src, Size len);

/* Accuracy and the macro averages; all NaN (nlabels 0) when n == 0. */
extern void ClassConfusionMetrics(const ClassConfusion *cm, ClassMetrics *out);

/*
 * Binary ROC AUC of scores (higher means class 1) against labels 0/1.
 * NaN when only one class occurs (sklearn raises an error there).  ERROR
 * on a NaN score.  Sorts copies of the scores by radix sort: O(n) time,
 * 8 * n bytes plus 8 bytes per row of the larger class of scratch.
 */
extern double BinaryRocAuc(const double *scores, const int *labels, int64 n);

/*
 * Log loss: add one row with the predicted probabilities of its
 * nclasses classes (clipped, then renormalized to sum 1, as sklearn
 * does), or for two classes just the probability of class 1.
 */
extern void LogLossInit(LogLossState *st);
extern void LogLossAdd(LogLossState *st, int truth, const double *proba, int nclasses);
extern void LogLossAddBinary(LogLossState *st, int truth, double p1);
extern void LogLossMerge(LogLossState *into, const LogLossState *from);

/* Mean loss per row; NaN when no row was added. */
extern double LogLossValue(const LogLossState *st);

#endif							/* AIF_CLASSMETRICS_H */
