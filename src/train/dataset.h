/*-------------------------------------------------------------------------
 *
 * dataset.h
 *	  A training source loaded into memory, for the iterative algorithms.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_DATASET_H
#define AIF_DATASET_H

#include "postgres.h"

#include "core/model.h"
#include "train/hyperparams.h"
#include "train/pass.h"

typedef struct Dataset
{
	int			p;				/* design columns */
	int64		ntrain;
	int64		ntest;
	double	   *Xtrain;			/* ntrain x p, column-major */
	double	   *Xtest;			/* ntest x p, column-major */
	double	   *ytrain;			/* target, or class index */
	double	   *ytest;
	/* one buffer (core/bigmem.h) holds the matrices and the targets */
	/* the loaded rows, dead once copied, for DatasetRelease: the load's slabs ... */
	int			nslabs;
	void	  **slabs;
	/* ... and any chunk of its own (palloc'd in loaded_cxt) */
	MemoryContext loaded_cxt;
	int			nloaded;
	void	  **loaded;
	Size	   *loaded_len;
} Dataset;

/*
 * A load that collected the class labels on the way keeps each row's label
 * hash where its class index belongs: the classes, by hash, sorted (no two
 * alike), for DatasetBuild to put the class indices in place.
 */
typedef struct DatasetLabels
{
	int			nclasses;
	const uint64 *hash;			/* ascending */
	const int  *cls;			/* the class of hash[i] */
} DatasetLabels;

/*
 * Build the dataset from a PASS_LOAD state: rows in the order of the scan
 * (which runs alone and without synchronized scans, so the same data gives
 * the same order), split into training and test rows by their split hash
 * (stratified by class for classification),
 * missing numeric values imputed by `impute` from the training rows (the
 * values chosen are stored in the model's features).  With labels, each
 * row's target is a label hash, replaced by its class (an unknown hash is an
 * error).  The state's rows are left in place for DatasetRelease or
 * DatasetReleaseLoaded to give back.
 */
extern Dataset *DatasetBuild(PassState *st, Model *model, double test_size,
							 ImputeStrategy impute, const struct DatasetLabels *labels);

/*
 * Standardize every column by the training rows' mean and population
 * standard deviation (a constant column keeps scale 1), in place; the
 * factors are returned in center and scale (p each).  Without
 * center_columns only the scale changes (center 0): a model fitted without
 * an intercept then has none on the original scale either.
 */
extern void DatasetStandardize(Dataset *ds, bool center_columns, double *center,
							   double *scale);

/*
 * ds will not be read again: its memory, and that of the loaded rows it
 * was built from, goes back to the kernel from helper threads, without
 * this thread waiting for them, and ds's pointers are cleared.
 */
extern void DatasetRelease(Dataset *ds);

/*
 * Only the loaded rows ds was built from (dead once it is built) go back
 * to the kernel: for callers that keep using ds, as tune() does.
 */
extern void DatasetReleaseLoaded(Dataset *ds);

/* Bytes PASS_LOAD may keep: the matrices need as much again. */
extern Size DatasetLoadBudget(void);

#endif							/* AIF_DATASET_H */
