# aifactory: PGXS build.  `make`, `make install`, `make installcheck`.

EXTENSION = aifactory
MODULE_big = aifactory
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

OBJS = \
	src/aifactory.o \
	src/algorithms/distributions.o \
	src/algorithms/drift.o \
	src/algorithms/abserr.o \
	src/algorithms/classmetrics.o \
	src/algorithms/elasticnet.o \
	src/algorithms/forest.o \
	src/algorithms/gbdt.o \
	src/algorithms/kmeans.o \
	src/algorithms/logistic.o \
	src/algorithms/logistic_kernel.o \
	src/algorithms/lsq.o \
	src/algorithms/naivebayes.o \
	src/algorithms/pca.o \
	src/algorithms/search.o \
	src/algorithms/sketch.o \
	src/algorithms/splithash.o \
	src/algorithms/treebins.o \
	src/algorithms/treebuild.o \
	src/algorithms/trees.o \
	src/core/blas.o \
	src/core/modelbytes.o \
	src/core/source.o \
	src/core/prefault.o \
	src/core/bigmem.o \
	src/core/threads.o \
	src/features/featureview.o \
	src/features/online.o \
	src/features/trainingset.o \
	src/jobs/jobs.o \
	src/jobs/worker.o \
	src/registry/cache.o \
	src/registry/registry.o \
	src/registry/deploy.o \
	src/registry/exchange.o \
	src/registry/inspect.o \
	src/train/dataset.o \
	src/train/hyperparams.o \
	src/train/linreg_agg.o \
	src/train/pass.o \
	src/train/columns.o \
	src/train/fit_memory.o \
	src/train/fit_stream.o \
	src/train/report.o \
	src/train/tableload.o \
	src/train/baseline.o \
	src/core/preprocess.o \
	src/train/train.o \
	src/monitor/drift_pass.o \
	src/monitor/drift_sql.o \
	src/monitor/monitors.o \
	src/monitor/scheduler.o \
	src/predict/evaluate.o \
	src/predict/explain.o \
	src/predict/predict.o \
	src/serve/feedback.o \
	src/serve/keyed.o \
	src/serve/predlog.o \
	src/serve/serving.o \
	src/serve/traffic.o \
	src/tune/space.o \
	src/tune/trial.o \
	src/tune/tune.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress suites: every sql/<topic>.sql that is not an install script.
REGRESS = $(sort $(filter-out $(EXTENSION)--%,$(notdir $(basename $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CPPFLAGS = -I$(srcdir)/src -I/usr/include/x86_64-linux-gnu/openblas-pthread
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-cast-function-type
SHLIB_LINK = -lopenblas -llapacke -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: print-regress
print-regress:
	@echo $(REGRESS)

# Rebuild everything when a header changes (PGXS tracks no dependencies).
$(OBJS): $(wildcard src/*.h src/*/*.h)
