/*===- cuda.c - libattnrt on NVIDIA GPUs through the driver API ---*- C -*-===*
 *
 * Part of the attn project.
 *
 * Kernels compiled with --target=nvptx embed their PTX; their host code
 * calls the mgpu* functions below (the ABI of MLIR's gpu-to-llvm lowering),
 * which this file implements on the CUDA driver API. The driver is opened
 * with dlopen("libcuda.so.1") on first use: nothing here links against
 * CUDA, and a machine without a driver or a device gets a status with a
 * message, never a crash.
 *
 * Errors inside the mgpu* calls (which return nothing) are recorded for the
 * calling thread; attnrt_cuda_invoke returns the first one.
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"
#include "internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The few driver API types and constants used (cuda.h is not needed). */
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;
enum { CUDA_SUCCESS = 0, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };
enum { MAX_DEVICES = 16, STATIC_SHARED_LIMIT = 48 * 1024 };

static struct {
  int status; /* ATTNRT_OK once loaded */
  char why[512];
  int num_devices;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuGetErrorString)(CUresult, const char **);
} drv;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static CUcontext contexts[MAX_DEVICES];

static _Thread_local int current_device;
static _Thread_local CUstream current_stream;
/* First failure inside mgpu* calls since the last attnrt_cuda_invoke. */
static _Thread_local int pending_status;

static void load_driver(void) {
  drv.status = ATTNRT_UNSUPPORTED;
  /* ATTN_CUDA_DRIVER names another driver library (tests use a missing one
   * to check the error path on machines that have a GPU). */
  const char *path = getenv("ATTN_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *err = dlerror();
    snprintf(drv.why, sizeof(drv.why), "no CUDA driver (%s)",
             err ? err : path);
    return;
  }
#define LOAD(field, name)                                                     \
  do {                                                                         \
    *(void **)&drv.field = dlsym(lib, name);                                   \
    if (!drv.field) {                                                          \
      snprintf(drv.why, sizeof(drv.why),                                       \
               "the CUDA driver %s has no %s", path, name);                    \
      return;                                                                  \
    }                                                                          \
  } while (0)
  LOAD(cuInit, "cuInit");
  LOAD(cuDeviceGetCount, "cuDeviceGetCount");
  LOAD(cuDeviceGet, "cuDeviceGet");
  LOAD(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  LOAD(cuCtxSetCurrent, "cuCtxSetCurrent");
  LOAD(cuModuleLoadData, "cuModuleLoadData");
  LOAD(cuModuleGetFunction, "cuModuleGetFunction");
  LOAD(cuFuncSetAttribute, "cuFuncSetAttribute");
  LOAD(cuLaunchKernel, "cuLaunchKernel");
  LOAD(cuMemAlloc, "cuMemAlloc_v2");
  LOAD(cuMemFree, "cuMemFree_v2");
  LOAD(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  LOAD(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  LOAD(cuStreamSynchronize, "cuStreamSynchronize");
  LOAD(cuGetErrorString, "cuGetErrorString");
#undef LOAD
  CUresult r = drv.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char *s = NULL;
    drv.cuGetErrorString(r, &s);
    snprintf(drv.why, sizeof(drv.why), "cuInit failed: %s",
             s ? s : "unknown error");
    return;
  }
  if (drv.cuDeviceGetCount(&drv.num_devices) != CUDA_SUCCESS ||
      drv.num_devices <= 0) {
    snprintf(drv.why, sizeof(drv.why), "no CUDA device");
    return;
  }
  drv.status = ATTNRT_OK;
}

static const char *cu_string(CUresult r) {
  const char *s = NULL;
  if (drv.cuGetErrorString)
    drv.cuGetErrorString(r, &s);
  return s ? s : "unknown CUDA error";
}

/* Records a driver failure for this thread (the first one wins). */
static int cu_fail(CUresult r, const char *what) {
  if (pending_status == ATTNRT_OK) {
    pending_status = ATTNRT_INTERNAL;
    attnrt_set_error(ATTNRT_INTERNAL, "%s: %s (CUDA error %d)", what,
                     cu_string(r), r);
  }
  return ATTNRT_INTERNAL;
}

/* Loads the driver and makes `device`'s primary context current. */
static int use_device(int device) {
  pthread_once(&load_once, load_driver);
  if (drv.status != ATTNRT_OK)
    return attnrt_set_error(drv.status, "%s", drv.why);
  if (device < 0 || device >= drv.num_devices || device >= MAX_DEVICES)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "CUDA device %d does not exist (%d devices)",
                            device, drv.num_devices);
  pthread_mutex_lock(&mu);
  CUresult r = CUDA_SUCCESS;
  if (!contexts[device]) {
    CUdevice dev;
    r = drv.cuDeviceGet(&dev, device);
    if (r == CUDA_SUCCESS)
      r = drv.cuDevicePrimaryCtxRetain(&contexts[device], dev);
  }
  pthread_mutex_unlock(&mu);
  if (r == CUDA_SUCCESS)
    r = drv.cuCtxSetCurrent(contexts[device]);
  if (r != CUDA_SUCCESS)
    return attnrt_set_error(ATTNRT_INTERNAL, "cannot use CUDA device %d: %s",
                            device, cu_string(r));
  current_device = device;
  return ATTNRT_OK;
}

/*--- Public API ------------------------------------------------------------*/

int attnrt_cuda_device_count(int *count) {
  pthread_once(&load_once, load_driver);
  if (count)
    *count = drv.status == ATTNRT_OK ? drv.num_devices : 0;
  if (drv.status != ATTNRT_OK)
    return attnrt_set_error(drv.status, "%s", drv.why);
  return ATTNRT_OK;
}

void attnrt_cuda_set_stream(void *stream) { current_stream = stream; }

int attnrt_cuda_malloc(int device, size_t bytes, void **ptr) {
  if (!ptr)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "null pointer");
  *ptr = NULL;
  int status = use_device(device);
  if (status != ATTNRT_OK)
    return status;
  CUdeviceptr p = 0;
  CUresult r = drv.cuMemAlloc(&p, bytes ? bytes : 1);
  if (r != CUDA_SUCCESS)
    return attnrt_set_error(ATTNRT_INTERNAL, "cuMemAlloc(%zu bytes): %s",
                            bytes, cu_string(r));
  *ptr = (void *)(uintptr_t)p;
  return ATTNRT_OK;
}

int attnrt_cuda_free(int device, void *ptr) {
  if (!ptr)
    return ATTNRT_OK;
  int status = use_device(device);
  if (status != ATTNRT_OK)
    return status;
  CUresult r = drv.cuMemFree((CUdeviceptr)(uintptr_t)ptr);
  return r == CUDA_SUCCESS
             ? ATTNRT_OK
             : attnrt_set_error(ATTNRT_INTERNAL, "cuMemFree: %s", cu_string(r));
}

int attnrt_cuda_copy_to_device(int device, void *dst, const void *src,
                               size_t bytes) {
  int status = use_device(device);
  if (status != ATTNRT_OK)
    return status;
  CUresult r = drv.cuMemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, bytes);
  return r == CUDA_SUCCESS ? ATTNRT_OK
                           : attnrt_set_error(ATTNRT_INTERNAL,
                                              "cuMemcpyHtoD: %s", cu_string(r));
}

int attnrt_cuda_copy_to_host(int device, void *dst, const void *src,
                             size_t bytes) {
  int status = use_device(device);
  if (status != ATTNRT_OK)
    return status;
  CUresult r = drv.cuMemcpyDtoH(dst, (CUdeviceptr)(uintptr_t)src, bytes);
  return r == CUDA_SUCCESS ? ATTNRT_OK
                           : attnrt_set_error(ATTNRT_INTERNAL,
                                              "cuMemcpyDtoH: %s", cu_string(r));
}

int attnrt_cuda_synchronize(int device) {
  int status = use_device(device);
  if (status != ATTNRT_OK)
    return status;
  CUresult r = drv.cuStreamSynchronize(current_stream);
  return r == CUDA_SUCCESS ? ATTNRT_OK
                           : attnrt_set_error(ATTNRT_INTERNAL,
                                              "kernel failed: %s", cu_string(r));
}

int attnrt_cuda_invoke(const char *signature, DLTensor *const *args,
                       int32_t num_args, attnrt_kernel_fn kernel) {
  attnrt_clear_error();
  int status = attnrt_validate_device(signature, args, num_args, kDLCUDA);
  if (status != ATTNRT_OK)
    return status;
  if (!kernel)
    return attnrt_set_error(ATTNRT_INTERNAL, "null kernel");
  status = use_device(num_args ? args[0]->device.device_id : 0);
  if (status != ATTNRT_OK)
    return status;
  int64_t words[ATTNRT_MAX_ARGS][ATTNRT_DESC_WORDS];
  void *descs[ATTNRT_MAX_ARGS];
  attnrt_build_descriptors(args, num_args, words, descs);
  pending_status = ATTNRT_OK;
  kernel(descs);
  if (pending_status != ATTNRT_OK)
    return pending_status;
  /* Launch errors of asynchronous kernels surface here. */
  return attnrt_cuda_synchronize(current_device);
}

/*--- The mgpu* ABI of MLIR's gpu-to-llvm lowering --------------------------*/

/* A module handle: the embedded image, loaded into each device's context on
 * first use (the global constructors that register images run before main
 * and never touch the driver). */
enum { FUNCTION_CACHE = 8 };
typedef struct attnrt_gpu_module {
  const void *image;
  CUmodule loaded[MAX_DEVICES];
  /* Kernels already looked up, by the address of their (constant) name. */
  struct {
    const char *name;
    int device;
    CUfunction function;
  } cache[FUNCTION_CACHE];
} attnrt_gpu_module;

void *mgpuModuleLoad(void *data, size_t size) {
  (void)size;
  attnrt_gpu_module *m = calloc(1, sizeof(*m));
  if (m)
    m->image = data;
  return m;
}

void *mgpuModuleLoadJIT(void *data, int opt_level) {
  (void)opt_level;
  return mgpuModuleLoad(data, 0);
}

void mgpuModuleUnload(void *module) {
  /* At exit: the contexts own the loaded modules; only the handle goes. */
  free(module);
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  attnrt_gpu_module *m = module;
  if (pending_status != ATTNRT_OK)
    return NULL;
  if (!m) {
    pending_status = attnrt_set_error(ATTNRT_INTERNAL,
                                      "kernel image not registered (was the "
                                      "object's constructor run?)");
    return NULL;
  }
  int device = current_device;
  pthread_mutex_lock(&mu);
  CUfunction f = NULL;
  for (int i = 0; i < FUNCTION_CACHE && !f; ++i)
    if (m->cache[i].name == name && m->cache[i].device == device)
      f = m->cache[i].function;
  CUresult r = CUDA_SUCCESS;
  if (!f && !m->loaded[device])
    r = drv.cuModuleLoadData(&m->loaded[device], m->image);
  if (r != CUDA_SUCCESS) {
    pthread_mutex_unlock(&mu);
    cu_fail(r, "loading the kernels' PTX");
    return NULL;
  }
  if (!f) {
    r = drv.cuModuleGetFunction(&f, m->loaded[device], name);
    for (int i = 0; r == CUDA_SUCCESS && i < FUNCTION_CACHE; ++i)
      if (!m->cache[i].name) {
        m->cache[i].name = name;
        m->cache[i].device = device;
        m->cache[i].function = f;
        break;
      }
  }
  pthread_mutex_unlock(&mu);
  if (r != CUDA_SUCCESS) {
    cu_fail(r, name);
    return NULL;
  }
  return f;
}

void *mgpuStreamCreate(void) { return current_stream; }
void mgpuStreamDestroy(void *stream) { (void)stream; }
/* attnrt_cuda_invoke synchronizes once, after the last launch. */
void mgpuStreamSynchronize(void *stream) { (void)stream; }

void mgpuLaunchKernel(void *function, intptr_t gx, intptr_t gy, intptr_t gz,
                      intptr_t bx, intptr_t by, intptr_t bz, int32_t smem,
                      void *stream, void **params, void **extra,
                      size_t num_params) {
  (void)num_params;
  if (pending_status != ATTNRT_OK || !function)
    return;
  if (gx == 0 || gy == 0 || gz == 0)
    return; /* empty problem (a zero batch or sequence length) */
  if (gx < 0 || gy < 0 || gz < 0 || gx > 0x7fffffff || gy > 65535 ||
      gz > 65535) {
    pending_status = attnrt_set_error(
        ATTNRT_UNSUPPORTED, "grid (%lld, %lld, %lld) exceeds the CUDA limits",
        (long long)gx, (long long)gy, (long long)gz);
    return;
  }
  CUresult r;
  if (smem > STATIC_SHARED_LIMIT) {
    r = drv.cuFuncSetAttribute(function,
                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                               smem);
    if (r != CUDA_SUCCESS) {
      cu_fail(r, "requesting the kernel's shared memory");
      return;
    }
  }
  r = drv.cuLaunchKernel(function, (unsigned)gx, (unsigned)gy, (unsigned)gz,
                         (unsigned)bx, (unsigned)by, (unsigned)bz,
                         (unsigned)smem, stream, params, extra);
  if (r != CUDA_SUCCESS)
    cu_fail(r, "cuLaunchKernel");
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, int host_shared) {
  (void)stream;
  (void)host_shared;
  if (pending_status != ATTNRT_OK)
    return NULL;
  CUdeviceptr p = 0;
  CUresult r = drv.cuMemAlloc(&p, bytes ? bytes : 1);
  if (r != CUDA_SUCCESS) {
    cu_fail(r, "cuMemAlloc");
    return NULL;
  }
  return (void *)(uintptr_t)p;
}

/* Intermediate buffers are freed after the kernels of the stream that use
 * them have finished (cuMemFree does not order itself after work queued on
 * a non-default stream). */
void mgpuMemFree(void *ptr, void *stream) {
  (void)stream;
  if (!ptr)
    return;
  CUresult r = drv.cuStreamSynchronize(current_stream);
  if (r != CUDA_SUCCESS)
    cu_fail(r, "cuStreamSynchronize");
  drv.cuMemFree((CUdeviceptr)(uintptr_t)ptr);
}
