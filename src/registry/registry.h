/*-------------------------------------------------------------------------
 *
 * registry.h
 *	  Projects, model versions, deployments and the audit log.
 *
 * All functions here expect SPI to be connected.  Reads run as the caller;
 * writes run as the extension's owner after the caller's right to make
 * them has been checked, so that the registry tables stay read-only for
 * everyone else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_REGISTRY_H
#define AIF_REGISTRY_H

#include "postgres.h"

#include "core/model.h"
#include "utils/jsonb.h"

#define DEFAULT_ALIAS "production"

typedef struct ProjectInfo
{
	int64		id;
	char	   *name;
	TaskKind	task;
	Oid			owner;
} ProjectInfo;

typedef struct ModelRow
{
	int64		id;
	int			version;
	char	   *algorithm;
	char	   *status;
	bytea	   *bytes;			/* NULL once dropped */
} ModelRow;

/* What train() or import_model() registers. */
typedef struct NewModel
{
	const char *algorithm;
	Jsonb	   *hyperparams;
	Jsonb	   *metrics;
	Jsonb	   *features;
	const char *source;
	const char *target;
	int64		train_rows;
	double		fit_seconds;
	bytea	   *bytes;
	Jsonb	   *lineage;		/* training set and feature views, or NULL */
	bytea	   *baseline;		/* drift baseline (train/baseline.h), or NULL */
} NewModel;

extern void RegistryCheckProjectName(const char *name);
extern bool RegistryFindProject(const char *name, ProjectInfo *project);
extern void RegistryGetProject(const char *name, ProjectInfo *project);
extern void RegistryCheckOwner(const ProjectInfo *project, const char *action);
extern void RegistryCreateProject(const char *name, TaskKind task,
								  ProjectInfo *project);

extern void RegistryLockProject(const ProjectInfo *project);
extern int	RegistryInsertModel(const ProjectInfo *project, const NewModel *m,
								int64 *model_id);

/* version <= 0 means the deployed one; errors name what is missing */
extern void RegistryGetModel(const ProjectInfo *project, int version,
							 bool need_bytes, ModelRow *row);
extern int64 RegistryDeployedModelId(int64 project_id);

extern void RegistryDeploy(const ProjectInfo *project, int64 model_id,
						   const char *strategy);
extern int64 RegistryBestModelId(const ProjectInfo *project);

extern void RegistryDropModel(int64 model_id);
extern void RegistryAudit(const char *action, const char *project, int version,
						  const char *detail_json);

extern Jsonb *JsonbFromCString(const char *json);

/*
 * A write to an aifactory table as the extension's owner (the caller has
 * checked the right to make it): fixed SQL with parameters; SPI_execute's
 * result code must be `expect`.
 */
extern int	RegistryExecAsOwner(const char *sql, int nargs, Oid *types, Datum *values,
								const char *nulls, int expect);
extern void RegistryModelVersion(int64 model_id, int *version, char **algorithm);
extern bytea *RegistryGetBaseline(int64 model_id);

#endif							/* AIF_REGISTRY_H */
