/*-------------------------------------------------------------------------
 *
 * traffic.c
 *	  A/B traffic between model versions: set_traffic(), route(), and the
 *	  routing hash.
 *
 * A split is a set of ready versions with positive weights summing to 1,
 * one row per version in aifactory.traffic_splits.  A key is routed by a
 * stable 64-bit hash (PostgreSQL's hash_bytes_extended with a fixed seed,
 * which is what hashtextextended() computes for text in a deterministic
 * collation), mapped to a point u in [0, 1); the versions, ascending, take
 * consecutive intervals of [0, 1) as wide as their weights, and the key
 * goes to the version whose interval holds u.  So the same key always
 * gets the same version while the split is unchanged, and changing the
 * weights moves only the keys whose points change interval.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "registry/cache.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(aifactory_set_traffic);
PG_FUNCTION_INFO_V1(aifactory_route);

/* The top 53 bits of the hash, as a double in [0, 1). */
double
TrafficPoint(const char *key, int len)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key, len, TRAFFIC_SEED);

	return (double) (h >> 11) * (1.0 / 9007199254740992.0);
}

/* The version a key is routed to, or 0 when the project has no split. */
int
TrafficRoute(const ServingInfo *info, const char *key, int len)
{
	double		u;

	if (info->nsplit == 0)
		return 0;
	u = TrafficPoint(key, len);
	for (int i = 0; i < info->nsplit - 1; i++)
		if (u < info->cumulative[i])
			return info->versions[i];
	return info->versions[info->nsplit - 1];
}

typedef struct SplitEntry
{
	int			version;
	double		weight;
	int64		model_id;
} SplitEntry;

static int
compare_split(const void *a, const void *b)
{
	int			x = ((const SplitEntry *) a)->version;
	int			y = ((const SplitEntry *) b)->version;

	return x < y ? -1 : x > y ? 1 : 0;
}

static void
bad_split(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid traffic split"),
			 errdetail("%s", detail),
			 errhint("A split is a JSON object of version: weight, such as '{\"3\": 0.9, \"4\": 0.1}', the weights positive and summing to 1.")));
}

/*
 * Parse and check a split against the registry (SPI connected): every key
 * a version of the project that is ready, every weight a positive number,
 * their sum 1 within 1e-9.  Returns the entries sorted by version.
 */
static SplitEntry *
parse_split(const ProjectInfo *project, Jsonb *split, int *n)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1];
	SplitEntry *entries;
	double		sum = 0;
	bool		isnull;

	values[0] = JsonbPGetDatum(split);
	if (SPI_execute_with_args("SELECT pg_catalog.jsonb_typeof($1)", 1, types, values, NULL,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the split");
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "object") != 0)
		bad_split("The split is not a JSON object.");
	if (SPI_execute_with_args("SELECT e.key, pg_catalog.jsonb_typeof(e.value), "
							  "CASE WHEN pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'number' "
							  "THEN (e.value)::pg_catalog.text::pg_catalog.float8 END "
							  "FROM pg_catalog.jsonb_each($1) AS e",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the split");
	*n = (int) SPI_processed;
	if (*n == 0)
		bad_split("The split names no version; set_traffic(project, NULL) removes a split.");
	entries = palloc(sizeof(SplitEntry) * *n);
	{
		SPITupleTable *tt = SPI_tuptable;

		for (int i = 0; i < *n; i++)
		{
			char	   *k = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
			char	   *kind = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
			char	   *end;
			long		v;
			double		w;

			errno = 0;
			v = strtol(k, &end, 10);
			if (k[0] == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > PG_INT32_MAX)
				bad_split(psprintf("\"%s\" is not a version number.", k));
			if (strcmp(kind, "number") != 0)
				bad_split(psprintf("The weight of version %ld is a JSON %s, not a number.", v, kind));
			w = DatumGetFloat8(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
			if (!(w > 0) || isinf(w))
				bad_split(psprintf("The weight of version %ld is %g; weights must be positive.", v, w));
			entries[i].version = (int) v;
			entries[i].weight = w;
			sum += w;
		}
	}
	if (fabs(sum - 1.0) > 1e-9)
		bad_split(psprintf("The weights sum to %.17g, not 1.", sum));
	qsort(entries, *n, sizeof(SplitEntry), compare_split);
	for (int i = 0; i < *n; i++)
	{
		ModelRow	row;

		if (i > 0 && entries[i].version == entries[i - 1].version)
			bad_split(psprintf("Version %d is named twice.", entries[i].version));
		RegistryGetModel(project, entries[i].version, false, &row);
		if (strcmp(row.status, "ready") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("version %d of project \"%s\" was dropped", entries[i].version,
							project->name),
					 errhint("A split can only name ready versions.")));
		entries[i].model_id = row.id;
	}
	return entries;
}

/*
 * set_traffic(project, split jsonb): route keyed predictions between
 * versions; NULL removes the split (keyed predictions then use the
 * deployed model again).  Owner only, audited, transactional.  Returns the
 * split now in force.
 */
Datum
aifactory_set_traffic(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	ProjectInfo project;
	SplitEntry *entries = NULL;
	int			n = 0;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *detail;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("project must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	RegistryCheckProjectName(name);
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryCheckOwner(&project, "set traffic");
	RegistryLockProject(&project);
	if (!PG_ARGISNULL(1))
		entries = parse_split(&project, PG_GETARG_JSONB_P(1), &n);

	values[0] = Int64GetDatum(project.id);
	RegistryExecAsOwner("DELETE FROM aifactory.traffic_splits "
						"WHERE project_id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_DELETE);
	for (int i = 0; i < n; i++)
	{
		Oid			itypes[5] = {INT8OID, INT4OID, INT8OID, FLOAT8OID, TEXTOID};
		Datum		ivalues[5];

		ivalues[0] = Int64GetDatum(project.id);
		ivalues[1] = Int32GetDatum(entries[i].version);
		ivalues[2] = Int64GetDatum(entries[i].model_id);
		ivalues[3] = Float8GetDatum(entries[i].weight);
		ivalues[4] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
		RegistryExecAsOwner("INSERT INTO aifactory.traffic_splits "
							"(project_id, version, model_id, weight, set_by) "
							"VALUES ($1, $2, $3, $4, $5)",
							5, itypes, ivalues, NULL, SPI_OK_INSERT);
	}
	if (n == 0)
		detail = "{\"split\": null}";
	else
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"split\": {");
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s\"%d\": %s", i > 0 ? ", " : "",
							 entries[i].version, float8out_internal(entries[i].weight));
		appendStringInfoString(&buf, "}}");
		detail = buf.data;
	}
	RegistryAudit("set_traffic", project.name, 0, detail);
	SPI_finish();

	for (int i = 0; i < n; i++)
	{
		Datum		r[2];
		bool		nulls[2] = {false, false};

		r[0] = Int32GetDatum(entries[i].version);
		r[1] = Float8GetDatum(entries[i].weight);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, r, nulls);
	}
	return (Datum) 0;
}

/*
 * route(project, key): the version predict(project, ..., key) uses for
 * this key now -- the split's, or the deployed version.
 */
Datum
aifactory_route(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *key = PG_GETARG_TEXT_PP(1);
	ServingInfo info;
	int			version;
	TimestampTz checked = 0;

	ServingCheck(&checked);
	ServingGet(name, CurrentMemoryContext, &info);
	version = TrafficRoute(&info, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
	if (version == 0)
	{
		int64		model_id = DeployedModelGet(name);
		char	   *algorithm;

		SPI_connect();
		RegistryModelVersion(model_id, &version, &algorithm);
		SPI_finish();
	}
	PG_RETURN_INT32(version);
}
