/*===- attn.h - the C API of libattn -------------------------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * libattn is the compiler and the runtime in one shared library, for
 * programs that compile attn IR while they run: the Python package (through
 * ctypes) and any other language with a C FFI. attn_compile parses the IR,
 * runs the same pipeline as attn-compile, loads the object into the process
 * and caches it on disk; attn_module_call runs a function on DLPack tensors
 * (libattnrt validates them, exactly as for an object made ahead of time).
 *
 * Every function returns 0 on success; otherwise a libattnrt status (1: an
 * invalid argument, e.g. a tensor or the IR; 2: unsupported; 3: internal)
 * and attn_last_error() says why, with the IR's locations.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_LIBATTN_H
#define ATTN_LIBATTN_H

#include <dlpack/dlpack.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attn_module attn_module;

typedef struct attn_compile_options {
  /* "native" (NULL: the same), "x86-64", "x86-64-avx2", "x86-64-avx512"
   * or "gpu-emulation" (the NVPTX pipeline's kernels on libattnrt's GPU
   * emulator; slow, for tests). */
  const char *target;
  /* Where compiled objects are kept, keyed by the IR, the compiler (a hash
   * of this library) and the options; NULL or "": no cache. */
  const char *cache_dir;
  /* Non-zero: also @f_train and @f_backward of every public @f
   * (docs/training.md). */
  int grad;
  /* The CPU tile sizes, as attn-compile --tune takes them ("" or NULL: the
   * module's own or the defaults). */
  const char *tune;
  /* The source's name in error locations (NULL: "<source>"). */
  const char *filename;
} attn_compile_options;

/* Compiles `size` bytes of attn IR. On success *out owns the loaded module. */
int attn_compile(const char *source, size_t size,
                 const attn_compile_options *options, attn_module **out);
void attn_module_free(attn_module *module);

/* Loads kernels made ahead of time: a shared library from `attn-compile
 * --emit=shared` (opened with dlopen; it carries its own libattnrt) or an
 * object from `--emit=obj` (linked into the process like attn_compile's).
 * `name` is the --name they were compiled with (NULL: the file's stem,
 * attn-compile's default); the functions are the symbols <name>_<f> that
 * have a <name>_<f>_signature. */
int attn_load(const char *path, const char *name, attn_module **out);

/* Non-zero if the module's object came from the cache. */
int attn_module_from_cache(const attn_module *module);
/* The cache key (64 hex digits). */
const char *attn_module_key(const attn_module *module);

/* The exported functions: name (the MLIR function's), signature (see
 * attn/runtime.h) and roles (comma-separated; "" unless the function says,
 * as @f_train and @f_backward do). Index from 0; NULL out of range. */
int attn_module_num_functions(const attn_module *module);
const char *attn_module_function_name(const attn_module *module, int index);
const char *attn_module_function_signature(const attn_module *module,
                                           int index);
const char *attn_module_function_roles(const attn_module *module, int index);
/* The index of function `name`, or -1. */
int attn_module_lookup(const attn_module *module, const char *name);

/* The shape and type of argument `arg` of function `index` (an output),
 * from the inputs among `args` (outputs may be NULL). `shape` has room for
 * 8 dims. */
int attn_module_infer_shape(const attn_module *module, int index,
                            DLTensor *const *args, int32_t num_args,
                            int32_t arg, int64_t *shape, int32_t *ndim,
                            DLDataType *dtype);

/* Runs function `index` on its inputs then its outputs. */
int attn_module_call(attn_module *module, int index, DLTensor **args,
                     int32_t num_args);

/* The message of the last failed call on this thread. */
const char *attn_last_error(void);

/* Worker threads of the CPU kernels (0: all cores or $ATTN_NUM_THREADS). */
int attn_set_num_threads(int num_threads);
int attn_get_num_threads(void);

/* The plan of a ragged batch (libattnrt's attnrt_plan_ragged: the format
 * and the numbers `heads` and `decode_items` are in attn/runtime.h and
 * docs/serving.md), computed once per step for every layer's call. */
int attn_plan_ragged(const DLTensor *qo_indptr, const DLTensor *kv_lens,
                     int64_t heads, int64_t decode_items, DLTensor *plan);

/* A hash of this library's file: what the cache keys name as the compiler. */
const char *attn_compiler_id(void);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_LIBATTN_H */
