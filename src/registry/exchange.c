/*-------------------------------------------------------------------------
 *
 * exchange.c
 *	  export_model() and import_model(): moving a model between databases.
 *
 * An export is an envelope around the model bytes that also carries what
 * the registry knows of the model (task, algorithm, hyperparameters,
 * features, metrics, lineage, and the drift baseline in base64):
 *
 *	  "AIFX"			4 bytes magic
 *	  envelope version	uint32 (network order)
 *	  metadata length	uint32, then the metadata as JSON text
 *	  model length		uint32, then the model bytes (modelbytes.c)
 *	  CRC-32C			uint32 over everything before it
 *
 * Importing checks the envelope, then the model bytes themselves, before
 * anything is written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "core/model.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "port/pg_crc32c.h"
#include "registry/registry.h"
#include "train/baseline.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "port/pg_bswap.h"

PG_FUNCTION_INFO_V1(aifactory_export_model);
PG_FUNCTION_INFO_V1(aifactory_import_model);

#define EXPORT_MAGIC "AIFX"
#define EXPORT_VERSION 1

static void
bad_export(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("not a valid aifactory model export"),
			 errdetail("%s", detail),
			 errhint("Pass the bytes returned by aifactory.export_model() unchanged.")));
}

Datum
aifactory_export_model(PG_FUNCTION_ARGS)
{
	char	   *name;
	int			version = 0;
	ProjectInfo project;
	ModelRow	row;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *meta;
	StringInfoData buf;
	pg_crc32c	crc;
	bytea	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
	{
		version = PG_GETARG_INT32(1);
		if (version <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("version must be positive"),
					 errhint("Leave the version out (or NULL) to export the deployed model.")));
	}

	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryGetModel(&project, version, true, &row);
	values[0] = Int64GetDatum(row.id);
	if (SPI_execute_with_args("SELECT pg_catalog.jsonb_build_object("
							  "'format', 'aifactory-model', 'task', p.task, "
							  "'project', p.name, 'version', m.version, 'algorithm', m.algorithm, "
							  "'hyperparams', m.hyperparams, 'metrics', m.metrics, "
							  "'features', m.features, 'source', m.source, 'target', m.target, "
							  "'train_rows', m.train_rows, 'fit_seconds', m.fit_seconds, "
							  "'created_at', m.created_at, "
							  "'baseline', pg_catalog.encode(m.baseline, 'base64'))::text "
							  "FROM aifactory.models m JOIN aifactory.projects p "
							  "ON p.id OPERATOR(pg_catalog.=) m.project_id "
							  "WHERE m.id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read model %lld", (long long) row.id);
	meta = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, EXPORT_MAGIC, 4);
	pq_sendint32(&buf, EXPORT_VERSION);
	pq_sendint32(&buf, strlen(meta));
	appendBinaryStringInfo(&buf, meta, strlen(meta));
	pq_sendint32(&buf, VARSIZE_ANY_EXHDR(row.bytes));
	appendBinaryStringInfo(&buf, VARDATA_ANY(row.bytes), VARSIZE_ANY_EXHDR(row.bytes));
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf.data, buf.len);
	FIN_CRC32C(crc);
	pq_sendint32(&buf, crc);

	result = SPI_palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	SPI_finish();
	PG_RETURN_BYTEA_P(result);
}

/* Read a JSON string member of the metadata, or NULL. */
static char *
meta_text(Jsonb *meta, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&meta->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static Jsonb *
meta_json(Jsonb *meta, const char *key, const char *fallback)
{
	JsonbValue *v;

	v = getKeyJsonValueFromContainer(&meta->root, key, strlen(key), NULL);
	if (v == NULL)
		return JsonbFromCString(fallback);
	return JsonbValueToJsonb(v);
}

Datum
aifactory_import_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *data = PG_GETARG_BYTEA_PP(1);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	StringInfoData buf;
	uint32		stored_crc;
	pg_crc32c	crc;
	uint32		metalen;
	uint32		modellen;
	char	   *metatext;
	bytea	   *modelbytes;
	Model	   *model;
	Jsonb	   *meta;
	char	   *task_name;
	char	   *algorithm;
	TaskKind	task;
	ProjectInfo project;
	NewModel	nm;
	int64		model_id;
	int			version;

	RegistryCheckProjectName(name);
	if (len < 4 + 4 + 4 + 4 + 4 || memcmp(p, EXPORT_MAGIC, 4) != 0)
		bad_export("The magic number is missing.");
	memcpy(&stored_crc, p + len - 4, 4);
	stored_crc = pg_ntoh32(stored_crc);
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, p, len - 4);
	FIN_CRC32C(crc);
	if (crc != stored_crc)
		bad_export("The checksum does not match.");

	buf.data = (char *) p;
	buf.len = len - 4;
	buf.maxlen = buf.len;
	buf.cursor = 4;
	if (pq_getmsgint(&buf, 4) != EXPORT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model export version is not supported"),
				 errhint("Export it again with this version of aifactory.")));
	metalen = pq_getmsgint(&buf, 4);
	if (metalen > (uint32) (buf.len - buf.cursor))
		bad_export("The metadata is truncated.");
	metatext = pnstrdup(pq_getmsgbytes(&buf, metalen), metalen);
	modellen = pq_getmsgint(&buf, 4);
	if (modellen != (uint32) (buf.len - buf.cursor))
		bad_export("The model bytes have the wrong length.");
	modelbytes = palloc(VARHDRSZ + modellen);
	SET_VARSIZE(modelbytes, VARHDRSZ + modellen);
	memcpy(VARDATA(modelbytes), pq_getmsgbytes(&buf, modellen), modellen);

	/* the model itself must load before anything is registered */
	model = ModelDeserialize(modelbytes, CurrentMemoryContext);
	meta = JsonbFromCString(metatext);
	task_name = meta_text(meta, "task");
	algorithm = meta_text(meta, "algorithm");
	if (task_name == NULL || !TaskFromName(task_name, &task) || task != model->task ||
		algorithm == NULL || strcmp(algorithm, AlgorithmName(model->algorithm)) != 0)
		bad_export("The metadata does not match the model.");

	SPI_connect();
	if (RegistryFindProject(name, &project))
	{
		RegistryCheckOwner(&project, "import models");
		if (project.task != task)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("project \"%s\" is a %s project, but the model is for %s",
							name, TaskName(project.task), TaskName(task))));
	}
	else
		RegistryCreateProject(name, task, &project);

	memset(&nm, 0, sizeof(nm));
	nm.algorithm = algorithm;
	nm.hyperparams = meta_json(meta, "hyperparams", "{}");
	nm.metrics = meta_json(meta, "metrics", "{}");
	nm.features = meta_json(meta, "features", "[]");
	nm.source = meta_text(meta, "source");
	nm.target = meta_text(meta, "target");
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&meta->root, "train_rows", 10, NULL);

		nm.train_rows = (v && v->type == jbvNumeric) ?
			DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric))) : 0;
		v = getKeyJsonValueFromContainer(&meta->root, "fit_seconds", 11, NULL);
		nm.fit_seconds = (v && v->type == jbvNumeric) ?
			DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric))) : 0;
	}
	nm.bytes = modelbytes;
	{
		/* the drift baseline travels as base64 in the metadata; checked */
		char	   *b64 = meta_text(meta, "baseline");

		if (b64 != NULL)
		{
			nm.baseline = DatumGetByteaPP(DirectFunctionCall2(binary_decode,
															  CStringGetTextDatum(b64),
															  CStringGetTextDatum("base64")));
			(void) BaselineDeserialize(nm.baseline);
		}
	}
	version = RegistryInsertModel(&project, &nm, &model_id);
	{
		StringInfoData detail;
		char	   *from_project = meta_text(meta, "project");

		initStringInfo(&detail);
		appendStringInfoString(&detail, "{\"from_project\": ");
		if (from_project)
			escape_json(&detail, from_project);
		else
			appendStringInfoString(&detail, "null");
		appendStringInfoChar(&detail, '}');
		RegistryAudit("import_model", name, version, detail.data);
	}
	SPI_finish();
	PG_RETURN_INT32(version);
}
