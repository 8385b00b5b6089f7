# k-means and silhouette (src/algorithms/kmeans.c)
TESTS += test_kmeans

test_kmeans.bin: test_kmeans.c $(ALG)/kmeans.c $(ALG)/kmeans.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
