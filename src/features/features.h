/*-------------------------------------------------------------------------
 *
 * features.h
 *	  The feature store: feature views, point-in-time training sets and
 *	  online tables.
 *
 *	  featureview.c		create_feature_view, drop_feature_view,
 *						feature_stats; the feature_views catalog
 *	  trainingset.c		create_training_set, drop_training_set: the
 *						point-in-time SQL; the lineage train() records
 *	  online.c			materialize, online_features, predict_online
 *
 * The catalogs (feature_views, training_sets, online_tables) belong to the
 * extension's owner and are written only through these functions, after
 * the caller's right has been checked (RegistryExecAsOwner).  Sources,
 * spines, generated views and online tables are read and written with the
 * caller's own privileges.  All functions expect SPI to be connected.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_FEATURES_H
#define AIF_FEATURES_H

#include "postgres.h"

#include "utils/array.h"

/* room for the "_online" suffix in a relation name */
#define FEATURE_VIEW_NAME_MAX	(NAMEDATALEN - 1 - 7)

/* A feature view as registered, with its source resolved. */
typedef struct FeatureView
{
	int64		id;
	char	   *name;
	char	   *source;			/* quoted, schema-qualified relation name */
	Oid			relid;
	Oid			owner;
	int			nkeys;
	char	  **keys;
	Oid		   *key_types;
	int32	   *key_typmods;
	char	   *event_time;
	Oid			event_type;
	int32		event_typmod;
	char	   *created_time;	/* NULL when the view has none */
	Oid			created_type;
	int32		created_typmod;
	int			nfeatures;
	char	  **features;
	Oid		   *feature_types;
	int32	   *feature_typmods;
	char	   *ttl;			/* interval as text, NULL when none */
} FeatureView;

/* featureview.c */
extern bool FeatureViewFind(const char *name, FeatureView *fv);
extern void FeatureViewGet(const char *name, FeatureView *fv);
extern void FeatureCheckOwner(const char *kind, const char *name, Oid owner,
							  const char *action);
extern bool FeatureIsTimeType(Oid typid);
extern char **FeatureTextArray(Datum array, int *n);
extern char *FeatureEqualityOperator(Oid ltype, Oid rtype);
extern char *FeatureCreationSchema(const char *schema);

/* trainingset.c */

/*
 * The FROM clause of a training source (as SourceFromClause), and when the
 * source is a training set (by its name, or the name of its relation) the
 * lineage to record with the model (JSON text) and the default features
 * (its feature columns); both NULL otherwise.
 */
extern char *TrainingSetSource(const char *source, Oid *relid, char **lineage,
							   ArrayType **features);

#endif							/* AIF_FEATURES_H */
