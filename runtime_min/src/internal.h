/* Declarations shared by the runtime's translation units. Not installed. */
#ifndef RONN_INTERNAL_H_
#define RONN_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>

/* The library is built with -fvisibility=hidden; only the public API is exported, and marking
 * it here keeps the public header free of build-system macros. */
#pragma GCC visibility push(default)
#include "ronn/runtime.h"
#pragma GCC visibility pop

#include "ronn/artifact_abi.h"
#include "tvm_abi.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the artifact plan blob is little-endian and is read in place: big-endian hosts are unsupported"
#endif

#if defined(__GNUC__)
#define RONN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define RONN_PRINTF(fmt, args)
#endif

#define RONN_ALIGNMENT 64u
/* DLPack allows more, but no ONNX model needs it and it bounds the shape strings in messages. */
#define RONN_MAX_NDIM 32u

/* ---- status.c ---- */
ronn_status* ronn_make_status(ronn_status_code code, const char* format, ...) RONN_PRINTF(2, 3);
/* The status every allocation failure reports; freeing it is a no-op. */
ronn_status* ronn_status_out_of_memory(void);

/* ---- sha256.c ---- */
typedef struct ronn_sha256 {
  uint32_t state[8];
  uint64_t length;
  uint8_t block[64];
  uint32_t used;
} ronn_sha256;
void ronn_sha256_init(ronn_sha256* ctx);
void ronn_sha256_update(ronn_sha256* ctx, const void* data, size_t size);
void ronn_sha256_final(ronn_sha256* ctx, uint8_t digest[32]);

/* ---- artifact_file.c ---- */
#define RONN_SIGNATURE_BLOCK_SIZE 128u

/* An artifact file opened once for its checks and its dlopen (through /proc/self/fd). */
typedef struct ronn_artifact_file {
  int fd; /* owned; -1 once closed */
  uint64_t size;
  ronn_artifact_footer_v1 footer;
  int has_signature;                    /* the payload ends with a block carrying the magic */
  ronn_artifact_signature_v1 signature; /* decoded, unchecked; valid when has_signature */
  int hashed;                           /* the payload was hashed: signed_sha256 is valid */
  uint8_t signed_sha256[32];            /* SHA-256 of the bytes before the signature block */
  int64_t changed_sec, changed_nsec;    /* the file's status change time (st_ctim) when opened */
  uint8_t footer_raw[96];               /* the footer's bytes as read */
  int sealed;                           /* fd is a sealed private copy of what was hashed */
} ronn_artifact_file;

/* Opens `path` and checks its footer (and, when verify_hash, the SHA-256 of every byte before
 * it) without mapping the file, so a truncated file fails here instead of faulting. With
 * private_copy (and verify_hash), the bytes are copied as they are hashed into a sealed private
 * file that replaces the descriptor (where the platform has one: see `sealed`). On success the
 * caller owns out_file's descriptor (ronn_artifact_file_close); on failure it is closed. */
ronn_status* ronn_artifact_file_open(const char* path, int verify_hash, int private_copy,
                                     ronn_artifact_file* out_file);
void ronn_artifact_file_close(ronn_artifact_file* file);
/* NULL when the open file still has the size and status change time it had when it was checked:
 * any write to it since (by anyone: the change time cannot be set back) moves the change time,
 * so bytes mapped after the check are the bytes that were checked. */
ronn_status* ronn_artifact_file_unchanged(const char* path, const ronn_artifact_file* file);

/* ---- signature.c ---- */
/* Applies the load's signature policy to an opened (and hashed, when a signature is checked)
 * file: nothing when no key is trusted and none is required; otherwise the file must carry a
 * valid signature by one of `keys` (RONN_UNSIGNED_ARTIFACT, RONN_UNTRUSTED_SIGNER,
 * RONN_BAD_SIGNATURE). */
ronn_status* ronn_signature_check(const char* path, const ronn_artifact_file* file,
                                  const ronn_public_key* keys, size_t num_keys, int required);

/* ---- plan.c ---- */
/* Views into a validated plan blob; every offset, index and size was bounds-checked. */
typedef struct ronn_plan {
  const ronn_plan_header_v1* header;
  const ronn_plan_tensor_v1* tensors;
  const ronn_plan_step_v1* steps;
  const uint32_t* inputs;
  const uint32_t* outputs;
  const uint32_t* args;
  const int64_t* shapes;
  const uint64_t* stages; /* num_inputs + num_outputs entries */
  const char* strings;
  const char* metadata;
} ronn_plan;

/* ---- device.c: the optional device blob ---- */
#define RONN_MAX_DEVICE_PARAMS 1024u

struct ronn_device_ops;

/* Views into a validated device blob. */
typedef struct ronn_device_module {
  const struct ronn_device_ops* ops; /* the implementation for the blob's device type (device.h) */
  const ronn_device_header_v1* header;
  const ronn_device_image_v1* images;
  const ronn_device_kernel_v1* kernels;
  const uint8_t* bytes;
  const char* strings;
  const uint8_t* blob;
  uint64_t size;
  uint32_t max_params; /* the most parameters of any kernel */
} ronn_device_module;

ronn_status* ronn_device_module_parse(const uint8_t* blob, uint64_t size,
                                      ronn_device_module* out_module);
const char* ronn_device_kernel_name(const ronn_device_module* module, uint32_t index);

/* `device` is NULL for artifacts without the device extension (device storage is then invalid). */
ronn_status* ronn_plan_parse(const uint8_t* blob, uint64_t size, uint32_t num_kernels,
                             uint64_t weights_size, const ronn_device_module* device,
                             ronn_plan* out_plan);
/* Nonzero for tensors stored in device memory. */
int ronn_storage_on_device(uint8_t storage);
const char* ronn_plan_string(const ronn_plan* plan, uint32_t offset);

/* ---- model.c ---- */
struct ronn_model {
  uint32_t refcount; /* atomic */
  void* library;     /* dlopen handle */
  int library_fd;    /* the verified file the library was loaded from (owned), or -1 */
  const ronn_artifact_v1* artifact;
  const uint8_t* weights; /* what kernels read: artifact->weights, or weights_copy */
  void* weights_copy;     /* owned: the weights on huge pages (platform/memory.c), or NULL */
  ronn_plan plan;
  ronn_tensor_info* inputs;
  ronn_tensor_info* outputs;
  uint64_t* input_align; /* per graph input: the alignment its caller data needs to be read in place */
  const ronn_artifact_device_v1* device_ext; /* NULL for CPU artifacts */
  ronn_device_module device;                 /* valid when device_ext != NULL */
  /* Dual artifacts (RONN_ARTIFACT_FLAG_DUAL, router.c): System 1 (owned; same library, kernels
   * and weights, its own plan) and the router. NULL for plain artifacts. */
  struct ronn_model* system1;
  const ronn_dual_header_v1* router;
};

/* ---- errors.c: the message a kernel raised, kept per thread ---- */
void ronn_error_hook(const char* kind, const char** parts, int32_t num_parts);
void ronn_error_set_message(const char* message);
void ronn_error_clear(void);
/* NULL when no message was raised on this thread since the last clear. */
const char* ronn_error_get(void);

/* ---- workspace.c ---- */
void* ronn_workspace_alloc_hook(int device_type, int device_id, uint64_t nbytes,
                                int dtype_code_hint, int dtype_bits_hint);
int ronn_workspace_free_hook(int device_type, int device_id, void* ptr);

/* ---- threadpool.c ---- */
typedef struct ronn_threadpool ronn_threadpool;
/* num_threads counts the caller: a pool of N starts N-1 workers. spin: a ronn_spin_mode. */
ronn_status* ronn_threadpool_create(int32_t num_threads, int32_t spin, ronn_threadpool** out_pool);
void ronn_threadpool_destroy(ronn_threadpool* pool);
int32_t ronn_threadpool_size(const ronn_threadpool* pool);
/* Makes `pool` the one that parallel launches on the calling thread use, returning the previous
 * one so that ronn_threadpool_leave can restore it. splittable: the running artifact's kernels
 * never call TVM's parallel barrier, so a region may run as more tasks than threads. */
ronn_threadpool* ronn_threadpool_enter(ronn_threadpool* pool, int splittable);
void ronn_threadpool_leave(ronn_threadpool* previous);
int ronn_parallel_launch_hook(ronn_parallel_lambda_fn lambda, void* cdata, int num_task);
int ronn_parallel_barrier_hook(int task_id, void* penv);
#ifdef RONN_TEST_HOOKS
/* Test builds only: called by ronn_model_load between the file's checks and its dlopen (a test
 * writes to the file there, as an attacker racing the loader would). */
extern void (*ronn_test_after_check)(const char* path);
#endif
#ifdef RONN_TEST_HOOKS
/* Test builds (-DRONN_TEST_HOOKS) only: worker 1 sleeps this many microseconds after each wake,
 * before it claims its task, as a descheduled worker would. */
extern uint32_t ronn_test_stall_worker_us;
/* Test builds only: split every barrier-free region (threadpool.c). */
extern int ronn_test_force_split;
extern double ronn_test_preemption_rate;
#endif

/* ---- platform/ ---- */
/* A sealable private file (-1 where the platform has none), writing to it, and sealing it
 * against any write, growth or shrinking (nonzero on failure). */
int ronn_platform_sealed_copy_create(void);
int ronn_platform_sealed_copy_write(int fd, const void* data, size_t size);
int ronn_platform_sealed_copy_seal(int fd);
int32_t ronn_platform_num_cpus(void);
/* Involuntary context switches of the process so far (0 where unknown). */
uint64_t ronn_platform_preemptions(void);
/* The weights the kernels should read: with huge_pages, a copy on huge pages (*out_owned, to
 * free()) where the platform offers them and the weights span at least one, else `weights`
 * itself (*out_owned NULL). */
const uint8_t* ronn_platform_weights_copy(const uint8_t* weights, uint64_t size, int huge_pages,
                                          void** out_owned);
/* A session's arena: RONN_ALIGNMENT-aligned, with huge_pages on huge pages where the platform
 * offers them and it spans at least one; to free(), NULL when out of memory. */
void* ronn_platform_arena_alloc(size_t size, int huge_pages);

#endif /* RONN_INTERNAL_H_ */
