/* The device interface: what the loader, the sessions and the workspace hooks need from an
 * accelerator that runs an artifact's device kernels. Not installed.
 *
 * One implementation per file (cuda/cuda.c), listed in device.c's table under the DLPack device
 * type of the kernels it runs; the artifact's device blob names that type, so a model finds its
 * implementation at load (ronn_device_module.ops) and session.c, workspace.c and model.c call
 * devices only through this table. A new accelerator is one file and one line of that table. */
#ifndef RONN_DEVICE_H_
#define RONN_DEVICE_H_

#include "internal.h"

/* An implementation's per-session state (device memory, stream...), opaque to the core: each
 * implementation defines the struct in its own file. */
typedef struct ronn_device_session ronn_device_session;

/* Where a device session keeps the plan's device tensors: device addresses, which only kernels
 * and the implementation's copies dereference. */
typedef struct ronn_device_memory {
  uint8_t* arena;
  uint8_t* weights;
  int32_t device_id; /* DLPack device id written into the device tensors */
} ronn_device_memory;

typedef struct ronn_device_ops {
  uint32_t device_type; /* DLPack device type (RONN_DEVICE_TYPE_* in artifact_abi.h) */
  const char* name;     /* in messages */
  /* Installs the artifact's device hooks (ronn_artifact_device_hooks_v1), once per load. */
  void (*install_hooks)(const ronn_artifact_device_v1* device);
  /* Sets up a session of `model` (whose device module was validated): device, kernels, arena,
   * weights. RONN_UNAVAILABLE (with the reason) when the driver or the device is missing. On
   * success the caller owns *out_session (session_release) and *out_memory describes it. */
  ronn_status* (*session_create)(const ronn_model* model, ronn_device_session** out_session,
                                 ronn_device_memory* out_memory);
  void (*session_release)(ronn_device_session* session); /* NULL is a no-op */
  /* Bracket a run on the calling thread (the workspace hooks find the session between them);
   * end waits for the device and reports asynchronous errors (run_ok: no earlier error). */
  ronn_status* (*begin)(ronn_device_session* session);
  ronn_status* (*end)(ronn_device_session* session, int run_ok);
  /* A copy between host and device memory, or within the device, in run order; bytes copied
   * to the host are there on return. */
  ronn_status* (*copy)(ronn_device_session* session, void* dst, int dst_on_device,
                       const void* src, int src_on_device, uint64_t nbytes);
  /* The workspace hooks for this device type, called by kernels between begin and end. alloc
   * sets the thread's error message when it returns NULL; free returns nonzero on failure. */
  void* (*workspace_alloc)(uint64_t nbytes);
  int (*workspace_free)(void* ptr);
} ronn_device_ops;

/* The implementation for a DLPack device type, or NULL when this runtime has none. */
const ronn_device_ops* ronn_device_ops_find(uint32_t device_type);

/* The implementations (one per file). */
extern const ronn_device_ops ronn_cuda_device_ops;

#endif /* RONN_DEVICE_H_ */
