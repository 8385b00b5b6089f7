/*-------------------------------------------------------------------------
 *
 * cache.h
 *	  Per-backend caches of deserialized models and of deployments.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_CACHE_H
#define AIF_CACHE_H

#include "postgres.h"

#include "core/model.h"

/*
 * Bumped whenever a cached model may have been freed: a pointer from
 * ModelCacheGet stays valid while the generation is unchanged.
 */
extern uint64 ModelCacheGeneration;

/*
 * Bumped whenever what projects serve may have changed (an invalidation of
 * aifactory.deployments arrived): a model id from DeployedModelGet stays
 * current while this is unchanged.
 */
extern uint64 DeploymentGeneration;

/* A model by id, deserialized once per backend (models are immutable). */
extern Model *ModelCacheGet(int64 model_id);

/*
 * The model id a project serves now, or an error naming what is missing.
 * Cached until a change to aifactory.deployments commits.
 */
extern int64 DeployedModelGet(const char *project);

/* The model id of an explicit version (not cached: one query). */
extern int64 VersionModelGet(const char *project, int version);

#endif							/* AIF_CACHE_H */
