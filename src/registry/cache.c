/*-------------------------------------------------------------------------
 *
 * cache.c
 *	  Per-backend caches of deserialized models and of deployments.
 *
 * Models are immutable, so a model cached by id never goes stale; the
 * cache is bounded by aifactory.model_cache_size and evicts the least
 * recently used models.  Which model a project serves does change: that
 * map is emptied by a relcache invalidation of aifactory.deployments,
 * which the table's trigger sends and PostgreSQL delivers to every backend
 * when the change commits (and to this backend at once, and again at
 * abort).  A deploy in one session is therefore seen by every other
 * session's next transaction, and reading the caches never writes, so
 * prediction works in read-only transactions and on standbys.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "aifactory.h"
#include "access/parallel.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "registry/cache.h"
#include "registry/registry.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(aifactory_relation_changed);

typedef struct ModelEntry
{
	int64		model_id;		/* key */
	Model	   *model;
	Size		size;
	uint64		last_used;
} ModelEntry;

typedef struct DeployedEntry
{
	char		project[NAMEDATALEN];	/* key */
	int64		model_id;
} DeployedEntry;

uint64		ModelCacheGeneration = 0;
uint64		DeploymentGeneration = 0;

static HTAB *model_cache = NULL;
static HTAB *deployed_cache = NULL;
static bool deployed_valid = false;
static bool models_valid = true;
static Oid	deployments_relid = InvalidOid;
static Oid	models_relid = InvalidOid;
static Size model_cache_bytes = 0;
static uint64 use_clock = 0;

/*
 * Relcache invalidation callback.  Only flags are set here; the caches are
 * emptied at their next use.  The deployment map goes on any change to
 * aifactory.deployments; the models go only when aifactory.models itself
 * is rebuilt or dropped (DROP EXTENSION, then a new registry whose ids
 * start over), or on a full reset.
 */
static void
deployments_inval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == deployments_relid ||
		!OidIsValid(deployments_relid))
	{
		deployed_valid = false;
		deployments_relid = InvalidOid;
		DeploymentGeneration++;
	}
	if (relid == InvalidOid || (OidIsValid(models_relid) && relid == models_relid))
	{
		models_valid = false;
		models_relid = InvalidOid;
	}
}

void
RegistryCacheInit(void)
{
	CacheRegisterRelcacheCallback(deployments_inval, (Datum) 0);
}

/*
 * Statement-level trigger on a table whose rows backends cache (deployments,
 * traffic splits and logging, the feature store's catalogs): queue a
 * relcache invalidation of that table, which takes effect everywhere when
 * the change commits; each cache's relcache callback recognizes its tables.
 */
Datum
aifactory_relation_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "aifactory_relation_changed must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

static void
ensure_caches(void)
{
	HASHCTL		ctl;

	if (!models_valid && model_cache != NULL)
	{
		HASH_SEQ_STATUS seq;
		ModelEntry *e;

		hash_seq_init(&seq, model_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			MemoryContextDelete(e->model->mcxt);
		hash_destroy(model_cache);
		model_cache = NULL;
		model_cache_bytes = 0;
		ModelCacheGeneration++;
	}
	models_valid = true;

	if (model_cache == NULL)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ModelEntry);
		ctl.hcxt = TopMemoryContext;
		model_cache = hash_create("aifactory models", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (deployed_cache != NULL && !deployed_valid)
	{
		hash_destroy(deployed_cache);
		deployed_cache = NULL;
	}
	if (deployed_cache == NULL)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(DeployedEntry);
		ctl.hcxt = TopMemoryContext;
		deployed_cache = hash_create("aifactory deployments", 64, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		deployed_valid = true;
	}
}

/* Drop least recently used models until the cache fits its budget. */
static void
evict(Size incoming)
{
	Size		limit = (Size) aif_model_cache_size * 1024;

	while (model_cache_bytes + incoming > limit && hash_get_num_entries(model_cache) > 0)
	{
		HASH_SEQ_STATUS seq;
		ModelEntry *e;
		ModelEntry *oldest = NULL;

		hash_seq_init(&seq, model_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (oldest == NULL || e->last_used < oldest->last_used)
				oldest = e;
		model_cache_bytes -= oldest->size;
		MemoryContextDelete(oldest->model->mcxt);
		hash_search(model_cache, &oldest->model_id, HASH_REMOVE, NULL);
		ModelCacheGeneration++;
	}
}

Model *
ModelCacheGet(int64 model_id)
{
	ModelEntry *entry;
	bool		found;
	Model	   *model;
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		bytes;
	Size		size;

	ensure_caches();
	entry = hash_search(model_cache, &model_id, HASH_FIND, &found);
	if (found)
	{
		entry->last_used = ++use_clock;
		return entry->model;
	}

	SPI_connect();
	if (!OidIsValid(models_relid))
		models_relid = get_relname_relid("models", get_namespace_oid("aifactory", false));
	values[0] = Int64GetDatum(model_id);
	if (SPI_execute_with_args("SELECT model FROM aifactory.models WHERE id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, IsInParallelMode(), 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read model %lld", (long long) model_id);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %lld does not exist", (long long) model_id)));
	bytes = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model %lld was dropped", (long long) model_id)));
	model = ModelDeserialize(DatumGetByteaPP(bytes), TopMemoryContext);
	SPI_finish();
	MemoryContextSwitchTo(caller);

	size = MemoryContextMemAllocated(model->mcxt, true);
	evict(size);
	entry = hash_search(model_cache, &model_id, HASH_ENTER, &found);
	entry->model = model;
	entry->size = size;
	entry->last_used = ++use_clock;
	model_cache_bytes += size;
	return model;
}

int64
DeployedModelGet(const char *project)
{
	DeployedEntry *entry;
	bool		found;
	char		key[NAMEDATALEN];
	ProjectInfo info;
	int64		model_id;

	RegistryCheckProjectName(project);
	ensure_caches();
	memset(key, 0, sizeof(key));
	strlcpy(key, project, sizeof(key));
	entry = hash_search(deployed_cache, key, HASH_FIND, &found);
	if (found)
		return entry->model_id;

	SPI_connect();
	if (!OidIsValid(deployments_relid))
		deployments_relid = get_relname_relid("deployments",
											  get_namespace_oid("aifactory", false));
	RegistryGetProject(project, &info);
	model_id = RegistryDeployedModelId(info.id);
	SPI_finish();
	if (model_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("project \"%s\" has no deployed model", project),
				 errhint("Deploy a version with aifactory.deploy('%s', version).", project)));

	/* an invalidation may have arrived while we read: then don't cache */
	if (deployed_valid && deployed_cache != NULL)
	{
		entry = hash_search(deployed_cache, key, HASH_ENTER, &found);
		entry->model_id = model_id;
	}
	return model_id;
}

int64
VersionModelGet(const char *project, int version)
{
	ProjectInfo info;
	ModelRow	row;
	bool		ready;

	RegistryCheckProjectName(project);
	SPI_connect();
	RegistryGetProject(project, &info);
	RegistryGetModel(&info, version, false, &row);
	ready = strcmp(row.status, "ready") == 0;
	SPI_finish();
	if (!ready)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of project \"%s\" was dropped", version, project),
				 errhint("Use another version.")));
	return row.id;
}
