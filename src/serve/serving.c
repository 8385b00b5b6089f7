/*-------------------------------------------------------------------------
 *
 * serving.c
 *	  A project's serving settings -- its traffic split and whether keyed
 *	  predictions are logged -- cached per backend; and set_logging().
 *
 * The settings live in aifactory.traffic_splits and
 * aifactory.prediction_logging.  A statement-level trigger on both sends a
 * relcache invalidation, which PostgreSQL delivers to this backend at once
 * and to every other backend when the change commits (as for
 * deployments, registry/cache.c).  The callback is registered on first
 * use; before that this backend has nothing cached.  Lookups that race
 * with an invalidation are used but not cached.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(aifactory_set_logging);

typedef struct ServingEntry
{
	char		project[NAMEDATALEN];	/* key */
	ServingInfo info;			/* arrays in serving_mcxt */
} ServingEntry;

uint64		ServingGeneration = 1;

static bool callback_registered = false;
static bool serving_valid = false;
static HTAB *serving_cache = NULL;
static MemoryContext serving_mcxt = NULL;
static Oid	splits_relid = InvalidOid;
static Oid	logging_relid = InvalidOid;

/* A change to either table (or a full reset) empties the cache. */
static void
serving_inval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || !OidIsValid(splits_relid) ||
		relid == splits_relid || relid == logging_relid)
	{
		ServingGeneration++;
		serving_valid = false;
		splits_relid = InvalidOid;
		logging_relid = InvalidOid;
	}
}

uint64
ServingCheck(TimestampTz *checked_at)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(serving_inval, (Datum) 0);
		callback_registered = true;
	}
	if (*checked_at != now)
	{
		AcceptInvalidationMessages();
		*checked_at = now;
	}
	return ServingGeneration;
}

static void
ensure_cache(void)
{
	HASHCTL		ctl;

	if (serving_cache != NULL && serving_valid)
		return;
	if (serving_mcxt == NULL)
		serving_mcxt = AllocSetContextCreate(TopMemoryContext, "aifactory serving",
											 ALLOCSET_SMALL_SIZES);
	if (serving_cache != NULL)
		hash_destroy(serving_cache);
	MemoryContextReset(serving_mcxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(ServingEntry);
	ctl.hcxt = serving_mcxt;
	serving_cache = hash_create("aifactory serving", 16, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	serving_valid = true;
}

static void
copy_info(const ServingInfo *from, MemoryContext mcxt, ServingInfo *to)
{
	*to = *from;
	to->versions = NULL;
	to->cumulative = NULL;
	if (from->nsplit > 0)
	{
		to->versions = MemoryContextAlloc(mcxt, sizeof(int) * from->nsplit);
		to->cumulative = MemoryContextAlloc(mcxt, sizeof(double) * from->nsplit);
		memcpy(to->versions, from->versions, sizeof(int) * from->nsplit);
		memcpy(to->cumulative, from->cumulative, sizeof(double) * from->nsplit);
	}
}

/* Read the settings of a project (SPI connected), arrays in mcxt. */
static void
read_settings(const char *project, MemoryContext mcxt, ServingInfo *info)
{
	ProjectInfo p;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	double		sum = 0;

	RegistryGetProject(project, &p);
	memset(info, 0, sizeof(*info));
	info->project_id = p.id;
	info->task = p.task;
	values[0] = Int64GetDatum(p.id);

	if (SPI_execute_with_args("SELECT enabled FROM aifactory.prediction_logging "
							  "WHERE project_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, IsInParallelMode(), 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read prediction_logging");
	if (SPI_processed == 1)
		info->logging = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));

	if (SPI_execute_with_args("SELECT version, weight FROM aifactory.traffic_splits "
							  "WHERE project_id OPERATOR(pg_catalog.=) $1 ORDER BY version",
							  1, types, values, NULL, IsInParallelMode(), 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read traffic_splits");
	info->nsplit = (int) SPI_processed;
	if (info->nsplit > 0)
	{
		info->versions = MemoryContextAlloc(mcxt, sizeof(int) * info->nsplit);
		info->cumulative = MemoryContextAlloc(mcxt, sizeof(double) * info->nsplit);
		for (int i = 0; i < info->nsplit; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];

			info->versions[i] = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
			sum += DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
			info->cumulative[i] = sum;
		}
		/* weights sum to 1 within 1e-9: the last version takes the rest */
		info->cumulative[info->nsplit - 1] = 1.0;
	}
}

void
ServingGet(const char *project, MemoryContext mcxt, ServingInfo *info)
{
	char		key[NAMEDATALEN];
	ServingEntry *entry;
	bool		found;
	ServingInfo fresh;
	MemoryContext tmp;
	MemoryContext old;

	RegistryCheckProjectName(project);
	if (!callback_registered)
	{
		TimestampTz never = 0;

		ServingCheck(&never);
	}
	ensure_cache();
	memset(key, 0, sizeof(key));
	strlcpy(key, project, sizeof(key));
	entry = hash_search(serving_cache, key, HASH_FIND, &found);
	if (found)
	{
		copy_info(&entry->info, mcxt, info);
		return;
	}

	if (!OidIsValid(splits_relid))
	{
		Oid			nsp = get_namespace_oid("aifactory", false);

		splits_relid = get_relname_relid("traffic_splits", nsp);
		logging_relid = get_relname_relid("prediction_logging", nsp);
	}
	tmp = AllocSetContextCreate(CurrentMemoryContext, "serving lookup", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(tmp);
	SPI_connect();
	read_settings(project, tmp, &fresh);
	SPI_finish();
	MemoryContextSwitchTo(old);
	copy_info(&fresh, mcxt, info);

	/* an invalidation may have arrived while we read: then don't cache */
	if (serving_valid && serving_cache != NULL)
	{
		entry = hash_search(serving_cache, key, HASH_ENTER, &found);
		copy_info(&fresh, serving_mcxt, &entry->info);
	}
	MemoryContextDelete(tmp);
}

/*
 * set_logging(project, enabled): whether predict(..., key) logs its
 * predictions into prediction_log.  The owner's decision, audited.
 */
Datum
aifactory_set_logging(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		enabled = PG_GETARG_BOOL(1);
	ProjectInfo project;
	Oid			types[3] = {INT8OID, BOOLOID, TEXTOID};
	Datum		values[3];

	RegistryCheckProjectName(name);
	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryCheckOwner(&project, "set logging");
	RegistryLockProject(&project);
	values[0] = Int64GetDatum(project.id);
	values[1] = BoolGetDatum(enabled);
	values[2] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	RegistryExecAsOwner("INSERT INTO aifactory.prediction_logging AS l "
						"(project_id, enabled, set_by) VALUES ($1, $2, $3) "
						"ON CONFLICT (project_id) DO UPDATE SET enabled = EXCLUDED.enabled, "
						"set_by = EXCLUDED.set_by, set_at = pg_catalog.clock_timestamp()",
						3, types, values, NULL, SPI_OK_INSERT);
	RegistryAudit("set_logging", project.name, 0,
				  enabled ? "{\"enabled\": true}" : "{\"enabled\": false}");
	SPI_finish();
	PG_RETURN_VOID();
}
