/*-------------------------------------------------------------------------
 *
 * drift_pass.h
 *	  The scan behind drift(): the current data summarized as a baseline.
 *
 * drift() reads its source only through the parallel-safe aggregate
 * aifactory._drift_pass(model bytea, VARIADIC "any"), whose arguments
 * after the model's bytes are the raw feature columns in the model's
 * order.  It returns the current rows' summary in the serialized form of
 * a baseline (train/baseline.h), with these differences:
 *	- numeric sketches keep a bottom-DRIFT_CURRENT_K sample and no exact
 *	  moments (only the reference's standard deviation norms anything);
 *	- categorical features are summarized by the text of the raw value;
 *	- a row's sample hash is a hash of its raw values, since a parallel
 *	  scan has no row positions: the summary is the same however the
 *	  planner splits the scan.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_DRIFT_PASS_H
#define AIF_DRIFT_PASS_H

#include "core/model.h"
#include "train/baseline.h"

/*
 * Current rows a numeric feature's sample keeps.  Below it every
 * statistic uses every current row; above it the current side is a
 * uniform sample of this size (sketch.h gives the error).
 */
#define DRIFT_CURRENT_K		8192

/* An empty summary of the current rows for a model. */
extern Baseline *DriftCurrentCreate(const Model *model);

/* The aggregate's result read back (NumSketch moments dropped). */
extern Baseline *DriftCurrentDeserialize(const bytea *bytes);

/*
 * Around drift()'s scan: the final function hands the summary over in
 * memory (moved under cxt) instead of serializing it; End returns it, or
 * NULL when the final function did not run here (no rows).
 */
extern void DriftPassHandoffBegin(MemoryContext cxt);
extern Baseline *DriftPassHandoffEnd(void);
extern bool DriftPassIsHandoffMarker(const bytea *value);

#endif							/* AIF_DRIFT_PASS_H */
