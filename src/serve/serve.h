/*-------------------------------------------------------------------------
 *
 * serve.h
 *	  Live serving: traffic splits between versions, the prediction log and
 *	  the outcomes joined into it later.
 *
 *	  serving.c		a project's serving settings (split, logging), cached
 *					per backend and invalidated when they change; set_logging
 *	  traffic.c		set_traffic(), route(): splits and the routing hash
 *	  keyed.c		predict(..., key) and friends: route, predict, log
 *	  predlog.c		the backend's buffer of logged predictions and its flush
 *	  feedback.c	record_outcome(), live_metrics()
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_SERVE_H
#define AIF_SERVE_H

#include "postgres.h"

#include "core/model.h"
#include "datatype/timestamp.h"

/*
 * The fixed seed of the routing hash: a key goes to the version whose
 * cumulative weight first exceeds hash_bytes_extended(key, seed) mapped
 * to [0, 1) -- in SQL, hashtextextended(key, seed).
 */
#define TRAFFIC_SEED	UINT64CONST(0x6169666163746f72)	/* "aifactor" */

/* What serving a project involves, as of the last change committed. */
typedef struct ServingInfo
{
	int64		project_id;
	TaskKind	task;
	bool		logging;		/* keyed predictions are logged */
	int			nsplit;			/* versions in the traffic split; 0: none */
	int		   *versions;		/* ascending */
	double	   *cumulative;		/* running sum of the weights; last is 1 */
} ServingInfo;

/*
 * Bumped whenever a project's serving settings may have changed (a relcache
 * invalidation of traffic_splits or prediction_logging arrived): a
 * ServingInfo copied out of ServingGet stays current while this is
 * unchanged.
 */
extern uint64 ServingGeneration;

/*
 * Look for invalidations once per statement (*checked_at remembers the
 * statement), then return the current generation.
 */
extern uint64 ServingCheck(TimestampTz *checked_at);

/*
 * A project's serving settings, copied into mcxt; an error if the project
 * does not exist.  Cached per backend until a change commits.
 */
extern void ServingGet(const char *project, MemoryContext mcxt, ServingInfo *info);

/* traffic.c: the key's point in [0, 1), and the version it is routed to */
extern double TrafficPoint(const char *key, int len);
extern int	TrafficRoute(const ServingInfo *info, const char *key, int len);

/* predlog.c: one prediction to be written to prediction_log */
typedef struct LoggedPrediction
{
	int64		project_id;
	int32		version;
	const char *key;
	int			keylen;
	const char *inputs;			/* JSON text */
	bool		has_value;
	double		value;			/* predict()'s number */
	const char *class_label;	/* classification, else NULL */
	const double *proba;		/* classification, else NULL */
	int			nproba;
} LoggedPrediction;

/* Refuse to log where the log cannot be written (read-only, parallel worker). */
extern void PredictionLogCheckWritable(const char *project);
extern void PredictionLogAppend(const LoggedPrediction *p);

/* Write the buffered predictions now (no-op when empty or not possible). */
extern void PredictionLogFlush(void);

#endif							/* AIF_SERVE_H */
