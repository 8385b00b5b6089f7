# k-means and silhouette (src/algorithms/kmeans.c).  KMEANS_ROUND_BYTES is set
# low so that the threaded Lloyd step of a test of moderate size takes several
# rounds (test_kmeans.c, TestThreads).
TESTS += test_kmeans

test_kmeans.bin: test_kmeans.c $(ALG)/kmeans.c $(ALG)/kmeans.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -DKMEANS_ROUND_BYTES=1048576 -o $@ $(filter %.c,$^) $(LDLIBS)
