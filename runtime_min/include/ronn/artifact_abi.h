/* ronn-aot artifact ABI, version 1.
 *
 * This header is the whole contract between an artifact (a shared library written by
 * `ronn-aot compile`) and a loader (runtime_min). It is versioned as if it were a schema:
 * a field is never moved or re-typed inside a version; any change bumps RONN_ABI_VERSION.
 *
 * An artifact is ONE shared library that exports exactly one symbol,
 * RONN_ARTIFACT_QUERY_SYMBOL. It holds:
 *   - kernels: TVM-compiled functions with the tvm-ffi packed calling convention;
 *   - the execution plan: a little-endian byte blob described below (no pointers, so it can be
 *     hashed and read by tools that cannot load the library, e.g. an aarch64 artifact on x86);
 *   - the weights: one 64-byte-aligned blob used in place (never copied);
 *   - hook slots: pointer variables that the kernels call through and the loader fills.
 * Artifacts for a GPU target add the optional device extension (see "Device extension" below:
 * device images + launch descriptors, and the device hooks); CPU artifacts do not carry it and
 * are laid out exactly as without it.
 * After the ELF image, the file carries a ronn_artifact_footer_v1 (the last bytes of the file)
 * with a SHA-256 over every byte before it; loaders verify it before dlopen, so a truncated or
 * corrupted file is refused before the dynamic loader maps it.
 *
 * Byte order: little-endian (all supported targets). Alignment of plan records: 8 bytes.
 */
#ifndef RONN_ARTIFACT_ABI_H_
#define RONN_ARTIFACT_ABI_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RONN_ABI_VERSION 1u
#define RONN_ARTIFACT_QUERY_SYMBOL "ronn_artifact_query"

/* ---------------------------------------------------------------------------------------------
 * Kernels and hooks
 * ------------------------------------------------------------------------------------------- */

/* tvm-ffi "safe call" signature: args is an array of TVMFFIAny (16 bytes each: int32 type_index,
 * int32 padding, 8-byte payload). Tensors are passed as type_index 7 (kTVMFFIDLTensorPtr) with a
 * DLTensor* payload. result->type_index must be 0 (None) on entry. Returns 0 on success; on
 * failure the kernel has called the error hook before returning non-zero. */
typedef int (*ronn_kernel_fn)(void* self, const void* args, int32_t num_args, void* result);

/* Hook signatures (identical to tvm/runtime/c_backend_api.h and tvm/ffi/c_api.h). */
typedef void* (*ronn_alloc_workspace_fn)(int device_type, int device_id, uint64_t nbytes,
                                         int dtype_code_hint, int dtype_bits_hint);
typedef int (*ronn_free_workspace_fn)(int device_type, int device_id, void* ptr);
typedef int (*ronn_parallel_lambda_fn)(int task_id, void* penv, void* cdata);
typedef int (*ronn_parallel_launch_fn)(ronn_parallel_lambda_fn lambda, void* cdata, int num_task);
typedef int (*ronn_parallel_barrier_fn)(int task_id, void* penv);
typedef void (*ronn_error_set_fn)(const char* kind, const char** parts, int32_t num_parts);

/* Addresses of the artifact's hook slots. The loader writes a function pointer into each
 * non-NULL slot once, right after loading and before any kernel runs. Slots are process-global
 * (one per loaded library), so the loader must install the same functions for every session. */
typedef struct ronn_artifact_hooks_v1 {
  void** alloc_workspace;   /* __TVMBackendAllocWorkspace */
  void** free_workspace;    /* __TVMBackendFreeWorkspace */
  void** parallel_launch;   /* __TVMBackendParallelLaunch */
  void** parallel_barrier;  /* __TVMBackendParallelBarrier */
  void** error_set;         /* the artifact's TVMFFIErrorSetRaisedFromCStrParts forwards here */
} ronn_artifact_hooks_v1;

/* ronn_artifact_v1.flags */
#define RONN_ARTIFACT_FLAG_DEVICE 0x1u /* the descriptor is a ronn_artifact_with_device_v1 */
/* Some kernel calls __TVMBackendParallelBarrier: its parallel regions need all their tasks running
 * at once, so the runtime runs every region of the artifact as exactly one task per thread.
 * Without the flag a runtime may split a region into more tasks than threads (threadpool.c). */
#define RONN_ARTIFACT_FLAG_PARALLEL_BARRIER 0x4u

/* The descriptor returned by the query symbol. Lives in the artifact's read-only data. */
typedef struct ronn_artifact_v1 {
  uint32_t abi_version;      /* RONN_ABI_VERSION the artifact was written for */
  uint32_t descriptor_size;  /* sizeof(ronn_artifact_v1) as compiled into the artifact, or
                                sizeof(ronn_artifact_with_device_v1) when flags has
                                RONN_ARTIFACT_FLAG_DEVICE */
  const uint8_t* plan;       /* the plan blob (ronn_plan_header_v1 first), 8-byte aligned */
  uint64_t plan_size;
  const uint8_t* weights;    /* 64-byte aligned; may be NULL when weights_size == 0 */
  uint64_t weights_size;
  uint32_t num_kernels;
  uint32_t flags;            /* RONN_ARTIFACT_FLAG_*; 0 for CPU artifacts */
  const ronn_kernel_fn* kernels;  /* num_kernels entries, indexed by ronn_plan_step_v1.kernel */
  ronn_artifact_hooks_v1 hooks;
} ronn_artifact_v1;

/* The one exported symbol. Returns the descriptor when the artifact speaks `abi_version`,
 * NULL otherwise (the loader then reports an ABI mismatch). */
typedef const ronn_artifact_v1* (*ronn_artifact_query_fn)(uint32_t abi_version);

/* ---------------------------------------------------------------------------------------------
 * Plan blob. Offsets are in bytes from the start of the plan blob unless stated otherwise.
 * ------------------------------------------------------------------------------------------- */

#define RONN_PLAN_MAGIC 0x4e4c5052u /* "RPLN" little-endian */

typedef struct ronn_plan_header_v1 {
  uint32_t magic;           /* RONN_PLAN_MAGIC */
  uint32_t version;         /* RONN_ABI_VERSION */
  uint64_t arena_size;      /* bytes of the per-session arena (64-byte aligned) */
  uint32_t num_tensors;
  uint32_t num_steps;
  uint32_t num_inputs;
  uint32_t num_outputs;
  uint32_t tensors_offset;  /* ronn_plan_tensor_v1[num_tensors] */
  uint32_t steps_offset;    /* ronn_plan_step_v1[num_steps] */
  uint32_t inputs_offset;   /* uint32_t[num_inputs]: tensor ids of the graph inputs, in order */
  uint32_t outputs_offset;  /* uint32_t[num_outputs]: tensor ids of the graph outputs, in order */
  uint32_t args_offset;     /* uint32_t pool: tensor ids used as step arguments */
  uint32_t shapes_offset;   /* int64_t pool: tensor dims */
  uint32_t strings_offset;  /* NUL-terminated UTF-8 strings, referenced by offset into the pool */
  uint32_t strings_size;
  uint32_t metadata_string; /* offset into the string pool: a JSON object (target, opt level,
                               producer version, ...) for tools; the runtime does not parse it */
  uint32_t stages_offset;   /* uint64_t[num_inputs + num_outputs]: arena offsets (64-aligned) of
                               the staging area of each input, then each output (see below) */
} ronn_plan_header_v1;   /* 72 bytes */

/* Where a tensor's bytes live. */
typedef enum ronn_storage_kind {
  RONN_STORAGE_ARENA = 0,   /* arena + offset */
  RONN_STORAGE_WEIGHTS = 1, /* weights blob + offset (read-only) */
  RONN_STORAGE_INPUT = 2,   /* caller's input number `index`, + offset */
  RONN_STORAGE_OUTPUT = 3   /* caller's output number `index`, + offset */
} ronn_storage_kind;

/* DLPack type codes (DLDataTypeCode). */
#define RONN_DTYPE_INT 0u
#define RONN_DTYPE_UINT 1u
#define RONN_DTYPE_FLOAT 2u
#define RONN_DTYPE_BFLOAT 4u
#define RONN_DTYPE_BOOL 6u

typedef struct ronn_plan_tensor_v1 {
  uint32_t name;          /* string offset; graph inputs/outputs carry their ONNX names */
  uint8_t storage;        /* ronn_storage_kind */
  uint8_t dtype_code;     /* DLPack code */
  uint8_t dtype_bits;
  uint8_t ndim;
  uint16_t dtype_lanes;
  uint16_t align;         /* RONN_STORAGE_INPUT only: the byte alignment (a power of two up to
                           * 64, dividing offset) the kernels reading it assume; 0 = 64. Others 0 */
  uint32_t index;         /* input/output number for RONN_STORAGE_INPUT/OUTPUT, else 0 */
  uint32_t shape;         /* index (not bytes) of the first dim in the int64 shape pool */
  uint32_t reserved1;
  uint64_t offset;        /* byte offset inside its storage; a multiple of 64 for ARENA/WEIGHTS */
  uint64_t nbytes;        /* product(shape) * bits * lanes / 8 */
} ronn_plan_tensor_v1;   /* 40 bytes */

/* Graph inputs and outputs are tensors with storage INPUT/OUTPUT. The kernels assume 64-byte
 * aligned data, except where an input's tensors say less (`align`: kernels compiled to read the
 * caller's data at element alignment), so a caller buffer that is not aligned to what its
 * tensors assume is staged through the arena at its stage offset (header.stages_offset): inputs
 * are copied in before the steps run, outputs copied out after. Aligned caller buffers are used
 * in place, without copies. */
typedef enum ronn_step_kind {
  RONN_STEP_KERNEL = 0,   /* kernels[kernel](args...) with each arg a DLTensor* */
  RONN_STEP_COPY = 1      /* memcpy(args[1] <- args[0], nbytes of args[0]) */
} ronn_step_kind;

/* Device storage (artifacts with the device extension only): the session's device arena
 * (ronn_device_header_v1.arena_size bytes) and the device's copy of the weights blob, uploaded
 * once per session, at the same offsets as in the weights blob. Kernels receive such tensors with
 * the device module's DLPack device type. A COPY step between a host and a device tensor is a
 * host-to-device or device-to-host copy. */
#define RONN_STORAGE_DEVICE_ARENA 4u
#define RONN_STORAGE_DEVICE_WEIGHTS 5u

typedef struct ronn_plan_step_v1 {
  uint32_t kind;          /* ronn_step_kind */
  uint32_t kernel;        /* index into ronn_artifact_v1.kernels (KERNEL steps) */
  uint32_t num_args;
  uint32_t args;          /* index (not bytes) of the first tensor id in the args pool */
  uint32_t name;          /* string offset: the kernel's name, for errors and profiling */
  uint32_t reserved0;
} ronn_plan_step_v1;     /* 24 bytes */

/* ---------------------------------------------------------------------------------------------
 * Device extension (optional, v1-compatible): kernels that run on a GPU.
 *
 * A device kernel in the kernel table is TVM's host code for it: an ordinary ronn_kernel_fn that
 * checks its DLTensor arguments (device tensors carry device_type == header.device_type) and
 * launches one or more device functions through the device hooks below:
 *   init_once(&cached_handle, init)   -> runs init once per handle slot; init calls
 *   module_lookup(*library_ctx, name, &handle)  -> the loader's handle for device function `name`
 *                                        ("__tvm_set_device" names the device selection call);
 *   function_call(handle, args, num_args, result) -> launches it: args (TVMFFIAny) are the
 *                                        function's parameters (ronn_device_kernel_v1.num_params,
 *                                        pointers as opaque pointers, scalars as int64/float64),
 *                                        then its launch values in launch-tag order.
 * Handles are cached in the artifact's (process-global) static data, so they must stay valid as
 * long as the library is loaded: loaders return addresses inside the device blob.
 * The loader stores the address of the device blob in *library_ctx.
 * ------------------------------------------------------------------------------------------- */

typedef int (*ronn_device_function_call_fn)(void* handle, const void* args, int32_t num_args,
                                            void* result);
typedef int (*ronn_device_module_lookup_fn)(void* library_ctx, const char* name, void** out_handle);
typedef int (*ronn_device_init_once_fn)(void** handle_slot, int (*init)(void** out_handle));

typedef struct ronn_artifact_device_hooks_v1 {
  void** function_call;     /* __TVMFFIFunctionCall */
  void** module_lookup;     /* __TVMFFIEnvModLookupFromImports */
  void** init_once;         /* __TVMFFIHandleInitOnce */
  void** library_ctx;       /* __tvm_ffi__library_ctx (a data pointer, not a function) */
} ronn_artifact_device_hooks_v1;

typedef struct ronn_artifact_device_v1 {
  const uint8_t* blob;      /* the device blob (ronn_device_header_v1 first), 64-byte aligned */
  uint64_t blob_size;
  ronn_artifact_device_hooks_v1 hooks;
} ronn_artifact_device_v1;

/* The descriptor of an artifact with RONN_ARTIFACT_FLAG_DEVICE: the query symbol returns
 * &base. A loader that predates the extension refuses it by its descriptor_size. */
typedef struct ronn_artifact_with_device_v1 {
  ronn_artifact_v1 base;
  ronn_artifact_device_v1 device;
} ronn_artifact_with_device_v1;

/* The device blob: pointer-free and little-endian like the plan (tools read it from the ELF
 * section ".ronn_device" without loading the library). Offsets are bytes from its start. */
#define RONN_DEVICE_MAGIC 0x56454452u /* "RDEV" little-endian */
#define RONN_DEVICE_VERSION 1u
#define RONN_DEVICE_TYPE_CUDA 2u      /* DLPack kDLCUDA */

typedef struct ronn_device_header_v1 {
  uint32_t magic;           /* RONN_DEVICE_MAGIC */
  uint32_t version;         /* RONN_DEVICE_VERSION */
  uint32_t device_type;     /* DLPack device type of the kernels: RONN_DEVICE_TYPE_CUDA */
  uint32_t num_images;
  uint32_t images_offset;   /* ronn_device_image_v1[num_images] */
  uint32_t num_kernels;
  uint32_t kernels_offset;  /* ronn_device_kernel_v1[num_kernels] */
  uint32_t bytes_offset;    /* uint8_t pool: parameter kinds and launch tags */
  uint32_t bytes_size;
  uint32_t strings_offset;  /* NUL-terminated kernel names */
  uint32_t strings_size;
  uint32_t reserved0;
  uint64_t arena_size;      /* bytes of the per-session device arena */
} ronn_device_header_v1;   /* 56 bytes */

#define RONN_IMAGE_CUBIN 1u /* ELF cubin for sm_<arch>: runs on compute capability
                               <arch/10>.<y> with y >= arch%10 */
#define RONN_IMAGE_PTX 2u   /* PTX for compute_<arch>, NUL-terminated; the driver compiles it for
                               GPUs of compute capability >= arch */

typedef struct ronn_device_image_v1 {
  uint32_t format;          /* RONN_IMAGE_* */
  uint32_t arch;            /* 90 for sm_90 / compute_90 */
  uint64_t offset;          /* 64-byte aligned */
  uint64_t size;
} ronn_device_image_v1;    /* 24 bytes */

/* Parameter kinds (how function_call's arguments become cuLaunchKernel parameters). */
#define RONN_PARAM_POINTER 1u
#define RONN_PARAM_INT32 2u
#define RONN_PARAM_INT64 3u
#define RONN_PARAM_FLOAT32 4u
#define RONN_PARAM_FLOAT64 5u

/* Launch tags: what each launch value sets. */
#define RONN_LAUNCH_GRID_X 0u  /* blockIdx.x extent */
#define RONN_LAUNCH_GRID_Y 1u
#define RONN_LAUNCH_GRID_Z 2u
#define RONN_LAUNCH_BLOCK_X 3u /* threadIdx.x extent */
#define RONN_LAUNCH_BLOCK_Y 4u
#define RONN_LAUNCH_BLOCK_Z 5u
#define RONN_LAUNCH_DYN_SHARED 6u /* dynamic shared memory bytes */

typedef struct ronn_device_kernel_v1 {
  uint32_t name;            /* string offset: the function's symbol in the images */
  uint32_t num_params;
  uint32_t params;          /* index of its first parameter kind in the byte pool */
  uint32_t num_launch;
  uint32_t launch;          /* index of its first launch tag in the byte pool */
  uint32_t reserved0;
} ronn_device_kernel_v1;   /* 24 bytes */

/* ---------------------------------------------------------------------------------------------
 * Dual extension (optional, v1-compatible): System 1 / System 2 in one artifact.
 *
 * The descriptor's plan is System 2 (the model at full precision). The dual blob adds System 1
 * (the same model with BitNet layers) as a second plan over the SAME kernel table and weights
 * blob (weights both use are stored once), and the router that picks one per run. Both plans
 * have the same graph inputs and outputs (names, dtypes, shapes). The router is data only:
 *   router & RONN_ROUTER_COMPLEXITY: before anything runs, score = bias + sum(weights[i] *
 *     feature[i](input complexity_input)); System 2 answers when !(score <= complexity_threshold);
 *   router & RONN_ROUTER_CONFIDENCE: System 1 runs; its output confidence_output (float32, last
 *     axis = classes, each other axis a row) gives the least confident row's signal; System 1's
 *     answer stands when signal >= confidence_threshold, else System 2 runs (+inf: never run
 *     System 1). Without either bit System 1 answers.
 * Dual artifacts are CPU-only: the compiler refuses --dual for device targets and a loader
 * refuses a descriptor with both RONN_ARTIFACT_FLAG_DEVICE and RONN_ARTIFACT_FLAG_DUAL.
 * ------------------------------------------------------------------------------------------- */

#define RONN_ARTIFACT_FLAG_DUAL 0x2u /* the descriptor is a ronn_artifact_with_dual_v1 */

typedef struct ronn_artifact_dual_v1 {
  const uint8_t* blob;      /* the dual blob (ronn_dual_header_v1 first), 8-byte aligned */
  uint64_t blob_size;
} ronn_artifact_dual_v1;

typedef struct ronn_artifact_with_dual_v1 {
  ronn_artifact_v1 base;
  ronn_artifact_dual_v1 dual;
} ronn_artifact_with_dual_v1;

#define RONN_DUAL_MAGIC 0x4c554452u /* "RDUL" little-endian */
#define RONN_DUAL_VERSION 1u
#define RONN_DUAL_MAX_FEATURES 8u

#define RONN_ROUTER_COMPLEXITY 0x1u
#define RONN_ROUTER_CONFIDENCE 0x2u

/* Confidence signals (higher = more confident), over the class probabilities of a row: the
 * softmax of the row when confidence_flags has RONN_CONFIDENCE_SOFTMAX, else the row itself. */
#define RONN_SIGNAL_MAX_PROB 1u    /* the largest probability */
#define RONN_SIGNAL_MARGIN 2u      /* largest minus second largest */
#define RONN_SIGNAL_NEG_ENTROPY 3u /* sum p*ln(p) over p > 0 */
#define RONN_CONFIDENCE_SOFTMAX 0x1u

/* Complexity features, each over the whole input tensor (float32), computed in double. */
#define RONN_FEATURE_MEAN 1u
#define RONN_FEATURE_STD 2u                 /* population standard deviation */
#define RONN_FEATURE_MEAN_ABS_DIFF 3u       /* mean |x[i+1]-x[i]| along the last axis */
#define RONN_FEATURE_FRACTION_ABOVE_MEAN 4u /* fraction of elements > the mean */

typedef struct ronn_dual_header_v1 {
  uint32_t magic;               /* RONN_DUAL_MAGIC */
  uint32_t version;             /* RONN_DUAL_VERSION */
  uint32_t header_size;         /* sizeof(ronn_dual_header_v1) */
  uint32_t router;              /* RONN_ROUTER_* bits */
  uint64_t plan_offset;         /* System 1's plan blob (ronn_plan_header_v1 first), 8-aligned */
  uint64_t plan_size;
  uint32_t confidence_output;   /* output index */
  uint32_t confidence_signal;   /* RONN_SIGNAL_* */
  uint32_t confidence_flags;    /* RONN_CONFIDENCE_* */
  uint32_t complexity_input;    /* input index */
  double confidence_threshold;
  uint32_t complexity_num_features; /* <= RONN_DUAL_MAX_FEATURES */
  uint32_t reserved0;
  uint32_t complexity_features[RONN_DUAL_MAX_FEATURES]; /* RONN_FEATURE_* */
  double complexity_weights[RONN_DUAL_MAX_FEATURES];
  double complexity_bias;
  double complexity_threshold;
} ronn_dual_header_v1; /* 176 bytes */

/* ---------------------------------------------------------------------------------------------
 * Footer: the last sizeof(ronn_artifact_footer_v1) bytes of the artifact file.
 * ------------------------------------------------------------------------------------------- */

#define RONN_FOOTER_MAGIC "RONNAOT1"

typedef struct ronn_artifact_footer_v1 {
  char magic[8];            /* RONN_FOOTER_MAGIC, not NUL-terminated */
  uint32_t abi_version;     /* RONN_ABI_VERSION */
  uint32_t footer_size;     /* sizeof(ronn_artifact_footer_v1) */
  uint64_t payload_size;    /* bytes before the footer: file size - footer_size */
  uint64_t plan_file_offset;     /* where the plan blob lies in the file */
  uint64_t plan_size;
  uint64_t weights_file_offset;  /* where the weights blob lies in the file */
  uint64_t weights_size;
  uint64_t code_size;       /* bytes of executable sections (.text) */
  uint8_t sha256[32];       /* SHA-256 of the first payload_size bytes of the file */
} ronn_artifact_footer_v1; /* 96 bytes */

/* ---------------------------------------------------------------------------------------------
 * Signature (optional): the last sizeof(ronn_artifact_signature_v1) bytes of the payload, just
 * before the footer, so the footer's SHA-256 covers it and runtimes that do not check signatures
 * load signed artifacts unchanged. Written by `ronn-aot sign` / `compile --sign-key`.
 *
 * The Ed25519 signature (RFC 8032, pure) is over the 112-byte ronn_signature_message_v1 built
 * from the file: the context string, the SHA-256 of the first signed_size bytes (everything
 * before this block), and the footer's layout fields. A loader with trusted keys recomputes the
 * message from the bytes it read and verifies it before dlopen.
 * ------------------------------------------------------------------------------------------- */

#define RONN_SIGNATURE_MAGIC "RONNSIG1"
#define RONN_SIGNATURE_VERSION 1u
#define RONN_SIGNATURE_ED25519 1u
#define RONN_SIGNATURE_CONTEXT "ronn-aot artifact signature v1" /* NUL-padded to 32 bytes */

typedef struct ronn_artifact_signature_v1 {
  char magic[8];          /* RONN_SIGNATURE_MAGIC, not NUL-terminated */
  uint32_t version;       /* RONN_SIGNATURE_VERSION */
  uint32_t block_size;    /* sizeof(ronn_artifact_signature_v1) */
  uint32_t algorithm;     /* RONN_SIGNATURE_ED25519 */
  uint32_t reserved;      /* 0 */
  uint64_t signed_size;   /* bytes before this block: footer.payload_size - block_size */
  uint8_t public_key[32]; /* the signer's Ed25519 key; its id is the first 8 bytes of its SHA-256 */
  uint8_t signature[64];  /* R || S */
} ronn_artifact_signature_v1; /* 128 bytes */

typedef struct ronn_signature_message_v1 {
  char context[32];          /* RONN_SIGNATURE_CONTEXT, NUL-padded */
  uint8_t sha256[32];        /* SHA-256 of the file's first signed_size bytes */
  uint64_t signed_size;      /* the rest: little-endian, as in the footer */
  uint64_t plan_file_offset;
  uint64_t plan_size;
  uint64_t weights_file_offset;
  uint64_t weights_size;
  uint64_t code_size;
} ronn_signature_message_v1; /* 112 bytes */

#ifdef __cplusplus
}
#endif
#endif /* RONN_ARTIFACT_ABI_H_ */
