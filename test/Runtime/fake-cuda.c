/* A stand-in CUDA driver for tests on machines without a GPU: it implements
 * the driver entry points libattnrt loads, keeps "device" memory in host
 * memory and logs module loads and kernel launches to stderr instead of
 * running them. Loaded through $ATTN_CUDA_DRIVER. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

CUresult cuInit(unsigned flags) { return flags == 0 ? 0 : 1; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int i) { *d = i; return 0; }
static int context;
CUresult cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = &context; return 0; }
CUresult cuCtxSetCurrent(void *c) { return c == &context ? 0 : 1; }

CUresult cuModuleLoadData(void **m, const void *image) {
  const char *ptx = image;
  const char *target = strstr(ptx, ".target ");
  int entries = 0;
  for (const char *p = ptx; (p = strstr(p, ".entry ")); p += 7)
    ++entries;
  fprintf(stderr, "fake-cuda: load %zu bytes of PTX, %.*s, %d entries\n",
          strlen(ptx), target ? (int)strcspn(target, "\n") : 0,
          target ? target : "", entries);
  *m = (void *)image;
  return 0;
}
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  /* The name must be an entry of the loaded PTX. */
  char needle[256];
  snprintf(needle, sizeof(needle), ".entry %s(", name);
  if (!strstr((const char *)m, needle))
    return 500; /* CUDA_ERROR_NOT_FOUND */
  /* A function handle is its name, kept in a small static table. */
  static char names[16][128];
  static int used;
  for (int i = 0; i < used; ++i)
    if (!strcmp(names[i], name)) {
      *f = names[i];
      return 0;
    }
  if (used == 16)
    return 2;
  snprintf(names[used], sizeof(names[used]), "%s", name);
  *f = names[used++];
  return 0;
}
CUresult cuFuncSetAttribute(void *f, int attr, int value) {
  fprintf(stderr, "fake-cuda: %s attribute %d = %d\n", (char *)f, attr, value);
  return 0;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  (void)stream;
  (void)extra;
  fprintf(stderr,
          "fake-cuda: launch %s grid=(%u,%u,%u) block=(%u,%u,%u) smem=%u "
          "params=%s\n",
          (char *)f, gx, gy, gz, bx, by, bz, smem, params ? "yes" : "none");
  return 0;
}
/* With FAKE_CUDA_TRACE_MEMORY set, allocations and frees are logged too. */
static int trace_memory(void) { return getenv("FAKE_CUDA_TRACE_MEMORY") != 0; }
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
  void *m = calloc(1, n);
  *p = (CUdeviceptr)(size_t)m;
  if (trace_memory())
    fprintf(stderr, "fake-cuda: alloc %zu bytes\n", n);
  return m ? 0 : 2;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  if (trace_memory())
    fprintf(stderr, "fake-cuda: free\n");
  free((void *)(size_t)p);
  return 0;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) {
  memcpy((void *)(size_t)d, s, n);
  return 0;
}
CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) {
  memcpy(d, (const void *)(size_t)s, n);
  return 0;
}
CUresult cuStreamSynchronize(void *s) { (void)s; return 0; }
CUresult cuGetErrorString(CUresult r, const char **s) {
  *s = r == 500 ? "named symbol not found" : "fake error";
  return 0;
}
