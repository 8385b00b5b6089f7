#!/usr/bin/env bash
# aifactory drift benchmark, run by hand (never part of scripts/test).
#
#   bench/drift.sh              set up, measure, print the tables, write bench/out/drift.json
#   (options go to bench/drift.py: --perf, --no-shift, --no-ridge, --out FILE)
#
# Measures aifactory.drift() with the current data = the 1M rows x 20 features of the
# reference table (the large-sample methods: normed Wasserstein, PSI, prediction drift):
#   (1) SELECT count(*) FROM aifactory.drift('bench_lin', 'SELECT f1, ..., f20 FROM bench')
#       against the scan floor SELECT sum(f1 + ... + f20) FROM bench     target ratio <= 2.0
#       (also an in-memory ridge model's baseline, as a side row)
#   (2) against an Evidently-style computation in Python (numpy/scipy, Debian's python3) on
#       the exported data: per feature wasserstein_distance(ref, cur) / std(ref), PSI on
#       numpy histogram bins (Sturges over both sides), ks_2samp, plus the prediction's
#       Wasserstein; the export (binary COPY) is timed apart, once;
#   (3) verdicts on both sides: the same data (no drift expected) and a shifted copy
#       (+0.5 sd on f1..f5: those 5 and only those expected to drift).
#
# Set-up as bench/classify.sh (bench/bench.sh: packages, build and install from the working
# tree, a throwaway cluster with PostgreSQL's defaults, the reference table, clean-up on the
# way out); runs bench/drift.py with /usr/bin/python3.
#
# Environment:
#   AIF_BENCH_TABLE_SQL       the table script (default: <repo>/../shared/bench/bench_table.sql)
#   AIF_BENCH_RUNS            timed runs of each measurement, interleaved (3)
#   AIF_BENCH_WARMUPS         warm-up runs before them (1)
#   AIF_PORT_BASE             first port tried (5433)
#   AIF_KEEP=1                keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=bench/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
bench_start python3-scipy python3-sklearn python3-threadpoolctl

export AIF_BENCH_RUNS=${AIF_BENCH_RUNS:-3} AIF_BENCH_WARMUPS=${AIF_BENCH_WARMUPS:-1}
"$PY" "$AIF_ROOT/bench/drift.py" "$@"
