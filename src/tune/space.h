/*-------------------------------------------------------------------------
 *
 * space.h
 *	  Reading a tune() search space from jsonb, and writing a point of it
 *	  back as hyperparameters.
 *
 * The format (DESIGN.md section 3):
 *
 *	  {"max_depth": [3, 6, 9],
 *	   "learning_rate": {"log_uniform": [0.01, 0.3]},
 *	   "n_estimators": {"int": [50, 500]},
 *	   "reg_lambda": {"uniform": [0, 10]}}
 *
 * A JSON array lists the values to choose from (numbers, strings,
 * booleans, null; at least one, no duplicates); an object with exactly
 * one of uniform, log_uniform or int is a range [low, high] with
 * low < high (log_uniform: 0 < low; int: whole-number ends, both
 * included).  The dimensions come in jsonb's key order, which is the
 * order jsonb_object_keys() shows (shorter keys first, then bytewise):
 * jsonb does not keep the order the keys were written in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_TUNE_SPACE_H
#define AIF_TUNE_SPACE_H

#include "postgres.h"

#include "algorithms/search.h"
#include "utils/jsonb.h"

/*
 * Parse a search space, palloc'd in the current memory context.  Anything
 * but the format above is an ERRCODE_INVALID_PARAMETER_VALUE error naming
 * the key and what is wrong, with a hint showing the accepted forms.
 */
extern SearchSpace *SearchSpaceParse(Jsonb *json);

/*
 * A point of space as a JSON object text, e.g.
 * {"max_depth": 6, "learning_rate": 0.012300000000000001}: INT values as
 * integers, CHOICE values as the choice's original JSON text, the others
 * with %.17g (so they read back exactly).  The caller merges it into the
 * hyperparameters of a trial.
 */
extern char *SearchPointJson(const SearchSpace *space, const double *point);

#endif							/* AIF_TUNE_SPACE_H */
