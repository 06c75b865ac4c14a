/* runtime_min: the public C API for loading and running ronn-aot artifacts.
 *
 * Portable C99 + POSIX threads + dlopen. Every object is reached through a handle, and every
 * knob is a field of an options struct: the library reads no environment variable (ronn-run
 * and the Python binding apply the RONN_* variables to the options, as overrides). Ownership
 * and threading rules are stated on each function.
 *
 * Global state, all of it internal and none of it configurable:
 *   - per thread: the session running on it (its thread pool, and its device session on a GPU),
 *     because the hooks a loaded artifact calls (parallel launch, device workspace) are slots
 *     per loaded library, not per session, and find the running session that way; the message
 *     of the last kernel error; a cache of the workspace blocks the thread freed last (released
 *     when the thread ends);
 *   - per process: the pthread keys behind the per-thread state (created once); the CUDA driver,
 *     loaded with dlopen at the first CUDA session and immutable after (or the reason it could
 *     not be); a lock serialising the first initialisation of a device module; the immutable
 *     status returned for out-of-memory failures (so that reporting one needs no allocation);
 *   - per loaded artifact library: its hook slots, written at each load with the same values.
 *
 *   ronn_model   - an opened, verified artifact (immutable, reference counted, thread-safe:
 *                  any thread may query it and create sessions from it concurrently).
 *   ronn_session - per-caller execution state: the arena, the thread pool, prepared kernel
 *                  arguments. One thread at a time may call ronn_session_run on a session;
 *                  different sessions may run concurrently.
 *   ronn_status  - NULL means success; otherwise a heap object the caller owns and must free
 *                  with ronn_status_free (its message names what failed and what to do).
 */
#ifndef RONN_RUNTIME_H_
#define RONN_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RONN_RUNTIME_API_VERSION 1

typedef enum ronn_status_code {
  RONN_OK = 0,
  RONN_INVALID_ARGUMENT = 1, /* wrong input name, shape, dtype, count, or a NULL argument */
  RONN_NOT_FOUND = 2,        /* the artifact file does not exist */
  RONN_IO_ERROR = 3,         /* the file could not be read */
  RONN_CORRUPT_ARTIFACT = 4, /* footer, hash, plan or ELF checks failed: truncated/corrupted */
  RONN_ABI_MISMATCH = 5,     /* the artifact speaks another ABI version: recompile it */
  RONN_LOAD_FAILED = 6,      /* dlopen failed (e.g. built for another CPU architecture) */
  RONN_KERNEL_FAILED = 7,    /* a kernel reported an error while running */
  RONN_OUT_OF_MEMORY = 8,
  RONN_UNAVAILABLE = 9,      /* a required device or driver is missing */
  RONN_INTERNAL = 10,
  /* Signature policy (trusted keys set, or a signature required; see ronn_model_options): */
  RONN_UNSIGNED_ARTIFACT = 11, /* the artifact carries no signature: sign it (ronn-aot sign) */
  RONN_UNTRUSTED_SIGNER = 12,  /* signed, but by a key that is not trusted here */
  RONN_BAD_SIGNATURE = 13      /* the signature does not verify: modified after signing */
} ronn_status_code;

typedef struct ronn_status ronn_status;
typedef struct ronn_model ronn_model;
typedef struct ronn_session ronn_session;

/* Status objects. ronn_status_free(NULL) is a no-op. The message stays valid until freed. */
ronn_status_code ronn_status_get_code(const ronn_status* status);
const char* ronn_status_get_message(const ronn_status* status);
void ronn_status_free(ronn_status* status);
const char* ronn_status_code_name(ronn_status_code code);

/* Element types: DLPack code/bits/lanes (RONN_DTYPE_* in artifact_abi.h). */
typedef struct ronn_dtype {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} ronn_dtype;

/* Description of a model input or output. All pointers are owned by the model and stay valid
 * while the model is alive. */
typedef struct ronn_tensor_info {
  const char* name;
  ronn_dtype dtype;
  int32_t ndim;
  const int64_t* shape;
  uint64_t nbytes;
} ronn_tensor_info;

/* A caller-owned tensor passed to ronn_session_run. `data` is borrowed for the call only.
 * A 64-byte aligned buffer is used in place; any other alignment is staged (one memcpy). */
typedef struct ronn_tensor {
  const char* name;    /* inputs: matched by name, NULL means "by position";
                          outputs: NULL, or the output's name (checked against model order) */
  void* data;
  ronn_dtype dtype;
  int32_t ndim;
  const int64_t* shape;
} ronn_tensor;

/* ---- model --------------------------------------------------------------------------------- */

/* An Ed25519 public key (RFC 8032 encoding), trusted to sign artifacts. */
typedef struct ronn_public_key {
  uint8_t bytes[32];
} ronn_public_key;

/* Reads a public key file: PEM "PUBLIC KEY" (what `ronn-aot keygen` writes as KEY.pub, and
 * `openssl pkey -pubout` for an Ed25519 key) or the raw 32 bytes. Thread-safe. */
ronn_status* ronn_public_key_read(const char* path, ronn_public_key* out_key);

typedef struct ronn_model_options {
  int verify_integrity; /* nonzero (default): check the footer's SHA-256 before loading */
  /* Signed artifacts. With trusted keys, or with require_signature, an artifact loads only when
   * it carries a valid Ed25519 signature by one of the trusted keys, checked on the bytes read
   * before dlopen (the SHA-256 is then checked whatever verify_integrity says). Without either,
   * signatures are ignored. The library reads no environment: ronn-run and the Python binding
   * trust the files named in RONN_TRUSTED_KEYS (paths separated by ':') when given no key, and
   * turn require_signature on under RONN_REQUIRE_SIGNATURE=1; a C program that wants that
   * device-wide policy applies it to its options the same way. */
  const ronn_public_key* trusted_keys; /* borrowed for the call to ronn_model_load; NULL: none */
  size_t num_trusted_keys;
  int require_signature; /* nonzero: refuse unsigned artifacts, even with no key trusted */
  int huge_pages;        /* nonzero (default): where the platform offers transparent huge pages
                            and the weights span one (2 MiB), kernels read a copy of them on huge
                            pages (faster to stream; twice the memory: 0 keeps one copy).
                            RONN_HUGE_PAGES=0 in the tools */
} ronn_model_options;
/* Defaults: verify_integrity 1, no trusted keys, require_signature 0, huge_pages 1. New fields
 * are added at the end: always initialize with this before setting fields. */
void ronn_model_options_initialize(ronn_model_options* out_options);

/* Opens and verifies the artifact at `path` (footer, SHA-256, signature when the options ask),
 * then dlopens the very file descriptor it verified. `options` may be NULL (defaults).
 * On success *out_model holds one reference the caller owns; on failure it is NULL. */
ronn_status* ronn_model_load(const char* path, const ronn_model_options* options,
                             ronn_model** out_model);
void ronn_model_retain(ronn_model* model);
void ronn_model_release(ronn_model* model); /* NULL is a no-op */

size_t ronn_model_num_inputs(const ronn_model* model);
size_t ronn_model_num_outputs(const ronn_model* model);
/* Fill *out_info for input/output `index`; returns RONN_INVALID_ARGUMENT when out of range. */
ronn_status* ronn_model_input_info(const ronn_model* model, size_t index,
                                   ronn_tensor_info* out_info);
ronn_status* ronn_model_output_info(const ronn_model* model, size_t index,
                                    ronn_tensor_info* out_info);
/* A JSON object written by the compiler (target, optimization level, sizes...). Owned by model. */
const char* ronn_model_metadata_json(const ronn_model* model);
uint64_t ronn_model_arena_size(const ronn_model* model);

/* ---- session ------------------------------------------------------------------------------- */

/* How a session's threads wait for work and for each other (ronn_session_options.spin). */
typedef enum ronn_spin_mode {
  RONN_SPIN_AUTO = 0,  /* spin briefly (~0.1-1 ms) before sleeping, less once the CPUs are found
                          oversubscribed (the tools make it RONN_SPIN_NEVER under RONN_SPIN=0) */
  RONN_SPIN_NEVER = 1, /* sleep at once: for CPUs shared with other work (capture, a UI, another
                          model), at the cost of a wake-up latency per parallel region */
  RONN_SPIN_ALWAYS = 2 /* spin as RONN_SPIN_AUTO does (the tools' RONN_SPIN does not change it) */
} ronn_spin_mode;

typedef struct ronn_session_options {
  int32_t num_threads; /* 0 (default): one per CPU this process may run on (its affinity
                          mask); 1: run on the caller only; N: the caller plus N-1 workers
                          (capped at 1024); negative: RONN_INVALID_ARGUMENT */
  int32_t spin;        /* a ronn_spin_mode (default RONN_SPIN_AUTO); others: INVALID_ARGUMENT */
  int32_t huge_pages;  /* nonzero (default): an arena of 2 MiB or more goes on transparent huge
                          pages where the platform offers them. RONN_HUGE_PAGES=0 in the tools */
  int32_t profile;     /* nonzero: time every step, and print the steps slowest first to stderr
                          when the session is released (default 0). RONN_PROFILE=1 in the tools */
} ronn_session_options;
/* Defaults as above. New fields are added at the end: always initialize before setting fields. */
void ronn_session_options_initialize(ronn_session_options* out_options);

/* Creates a session: allocates its arena once and starts its worker threads. The session
 * retains `model`. On failure *out_session is NULL. */
ronn_status* ronn_session_create(ronn_model* model, const ronn_session_options* options,
                                 ronn_session** out_session);
void ronn_session_release(ronn_session* session); /* joins the workers; NULL is a no-op */

/* Runs the model once. `inputs` must hold every model input exactly once (by name, or by
 * position when names are NULL), with matching dtype and shape. `outputs` must hold
 * ronn_model_num_outputs entries in model order, each with a caller-allocated buffer of the
 * output's dtype and shape. The runtime allocates nothing during a run (kernels may request
 * workspace memory through the workspace hook; the first kernel error on a thread allocates that
 * thread's message buffer). On failure, outputs are left unspecified. */
ronn_status* ronn_session_run(ronn_session* session, const ronn_tensor* inputs,
                              size_t num_inputs, ronn_tensor* outputs, size_t num_outputs);

/* ---- System 1 / System 2 (dual artifacts: `ronn-aot compile --dual`) -------------------------
 * A dual artifact holds two plans over the same inputs and outputs: System 1 (BitNet layers, fast)
 * and System 2 (full precision), and a router calibrated at compile time. A run picks one: */
typedef enum ronn_route {
  RONN_ROUTE_DEFAULT = 0, /* plain artifacts: their one plan; dual artifacts: RONN_ROUTE_AUTO */
  RONN_ROUTE_AUTO = 1,    /* the artifact's router decides, per run (dual artifacts only) */
  RONN_ROUTE_FAST = 2,    /* System 1 (dual artifacts only) */
  RONN_ROUTE_FULL = 3     /* System 2 (dual artifacts only) */
} ronn_route;

typedef struct ronn_run_options {
  int32_t route; /* ronn_route; a route other than DEFAULT on a plain artifact is
                    RONN_INVALID_ARGUMENT */
} ronn_run_options;
/* Defaults: RONN_ROUTE_DEFAULT. New fields are added at the end: initialize with this first. */
void ronn_run_options_initialize(ronn_run_options* out_options);

/* ronn_session_run with options (NULL: defaults). Same contract as ronn_session_run; with route
 * AUTO, System 1 may run first and System 2 after it (the outputs hold the answer of the system
 * that answered). */
ronn_status* ronn_session_run_with_options(ronn_session* session, const ronn_run_options* options,
                                           const ronn_tensor* inputs, size_t num_inputs,
                                           ronn_tensor* outputs, size_t num_outputs);

/* Nonzero when the model is a dual artifact. */
int ronn_model_is_dual(const ronn_model* model);

/* What a session's runs did so far. Runs that failed are not counted. */
typedef struct ronn_route_stats {
  uint64_t fast_runs;      /* answered by System 1 */
  uint64_t full_runs;      /* answered by System 2 (escalated ones included) */
  uint64_t escalated_runs; /* System 1 ran, the router judged it unsure, System 2 answered */
  int32_t last_route;      /* RONN_ROUTE_FAST or RONN_ROUTE_FULL: who answered the last
                              successful run; RONN_ROUTE_DEFAULT before any */
} ronn_route_stats;
/* Fills *out_stats; the same thread rules as ronn_session_run. */
ronn_status* ronn_session_route_stats(const ronn_session* session, ronn_route_stats* out_stats);

#ifdef __cplusplus
}
#endif
#endif /* RONN_RUNTIME_H_ */
