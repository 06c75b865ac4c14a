/* Validation of the plan blob. Everything the session later dereferences without checks (tensor
 * ids, pool indices, arena/weights/io offsets, string offsets, kernel indices) is checked here,
 * so a corrupted plan is reported as RONN_CORRUPT_ARTIFACT instead of crashing a run. */
#include <string.h>

#include "internal.h"

typedef char check_header_size[sizeof(ronn_plan_header_v1) == 72 ? 1 : -1];
typedef char check_tensor_size[sizeof(ronn_plan_tensor_v1) == 40 ? 1 : -1];
typedef char check_step_size[sizeof(ronn_plan_step_v1) == 24 ? 1 : -1];

#define HEADER_SIZE ((uint64_t)sizeof(ronn_plan_header_v1))

typedef struct checker {
  const uint8_t* blob;
  uint64_t size;
  const ronn_plan_header_v1* header;
  uint64_t num_args; /* entries in the args pool */
  uint64_t num_shapes;
} checker;

static ronn_status* corrupt(const char* format, const char* what, uint64_t a, uint64_t b) {
  return ronn_make_status(RONN_CORRUPT_ARTIFACT, format, what, (unsigned long long)a,
                          (unsigned long long)b);
}

static int fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

/* The header gives no sizes for the args and shape pools, so a section is taken to end where
 * the next section (in offset order) begins, or at the end of the blob. That holds for any
 * layout without overlapping sections and keeps every pool inside the blob. */
static uint64_t section_end(const checker* c, uint64_t offset) {
  const ronn_plan_header_v1* h = c->header;
  const uint32_t starts[] = {h->tensors_offset, h->steps_offset,  h->inputs_offset,
                             h->outputs_offset, h->args_offset,   h->shapes_offset,
                             h->strings_offset, h->stages_offset};
  uint64_t end = c->size;
  for (size_t i = 0; i < sizeof starts / sizeof starts[0]; ++i) {
    if (starts[i] > offset && starts[i] < end) end = starts[i];
  }
  return end;
}

static ronn_status* check_table(const checker* c, const char* what, uint32_t offset,
                                uint64_t count, uint64_t entry_size, uint64_t align) {
  if (count == 0) return NULL;
  if (offset < HEADER_SIZE || offset % align != 0) {
    return corrupt("invalid execution plan: %s table at offset %llu (must be %llu-byte aligned "
                   "and after the header)",
                   what, offset, align);
  }
  if (!fits(offset, count * entry_size, section_end(c, offset))) {
    return corrupt("invalid execution plan: %s table at offset %llu with %llu entries runs past "
                   "its section",
                   what, offset, count);
  }
  return NULL;
}

static uint64_t pool_entries(const checker* c, uint32_t offset, uint64_t entry_size) {
  if (offset < HEADER_SIZE || offset % entry_size != 0 || offset >= c->size) return 0;
  return (section_end(c, offset) - offset) / entry_size;
}

const char* ronn_plan_string(const ronn_plan* plan, uint32_t offset) {
  return plan->strings + offset;
}

static int valid_string(const ronn_plan* plan, uint32_t offset) {
  uint32_t size = plan->header->strings_size;
  return offset < size && memchr(plan->strings + offset, '\0', size - offset) != NULL;
}

static ronn_status* check_string(const ronn_plan* plan, const char* what, uint64_t index,
                                 uint32_t offset) {
  if (valid_string(plan, offset)) return NULL;
  return corrupt("invalid execution plan: %s %llu: string offset %llu is not a NUL-terminated "
                 "string inside the string pool",
                 what, index, offset);
}

static ronn_status* check_io_list(const ronn_plan* plan, const char* what, const uint32_t* ids,
                                  uint32_t count, uint8_t storage) {
  const ronn_plan_header_v1* h = plan->header;
  for (uint32_t i = 0; i < count; ++i) {
    if (ids[i] >= h->num_tensors) {
      return corrupt("invalid execution plan: %s %llu refers to tensor %llu, out of range", what,
                     i, ids[i]);
    }
    const ronn_plan_tensor_v1* t = &plan->tensors[ids[i]];
    if (t->storage != storage || t->index != i || t->offset != 0) {
      return corrupt("invalid execution plan: %s %llu: tensor %llu is not stored as that "
                     "graph input/output",
                     what, i, ids[i]);
    }
    ronn_status* status = check_string(plan, what, i, t->name);
    if (status != NULL) return status;
    for (uint32_t j = 0; j < i; ++j) {
      if (strcmp(ronn_plan_string(plan, t->name),
                 ronn_plan_string(plan, plan->tensors[ids[j]].name)) == 0) {
        return corrupt("invalid execution plan: %s %llu has the same name as %s %llu", what, i,
                       j);
      }
    }
  }
  return NULL;
}

int ronn_storage_on_device(uint8_t storage) {
  return storage == RONN_STORAGE_DEVICE_ARENA || storage == RONN_STORAGE_DEVICE_WEIGHTS;
}

/* A tensor bigger than this, or an arena far bigger than its tensors reach, comes from a
 * corrupted or hostile plan: callers would allocate it (inputs, outputs) or the session would. */
#define MAX_TENSOR_BYTES (1ull << 40)
#define ARENA_SLACK (64u * 1024u)

/* The arena bytes the plan's tensors and staging areas reach (all were checked to lie inside). */
static uint64_t arena_reach(const ronn_plan* plan) {
  const ronn_plan_header_v1* h = plan->header;
  uint64_t reach = 0;
  for (uint32_t i = 0; i < h->num_tensors; ++i) {
    const ronn_plan_tensor_v1* t = &plan->tensors[i];
    if (t->storage == RONN_STORAGE_ARENA && t->offset + t->nbytes > reach) {
      reach = t->offset + t->nbytes;
    }
  }
  for (uint64_t i = 0; i < (uint64_t)h->num_inputs + h->num_outputs; ++i) {
    uint32_t id = i < h->num_inputs ? plan->inputs[i] : plan->outputs[i - h->num_inputs];
    if (plan->stages[i] + plan->tensors[id].nbytes > reach) {
      reach = plan->stages[i] + plan->tensors[id].nbytes;
    }
  }
  return reach;
}

static ronn_status* check_tensor(const checker* c, const ronn_plan* plan, uint32_t id,
                                 uint64_t weights_size, const ronn_device_module* device) {
  const ronn_plan_header_v1* h = plan->header;
  const ronn_plan_tensor_v1* t = &plan->tensors[id];
  ronn_status* status = check_string(plan, "tensor", id, t->name);
  if (status != NULL) return status;
  if (t->dtype_bits == 0 || t->dtype_lanes == 0 || t->dtype_code == 3u /* opaque handle */ ||
      ((uint32_t)t->dtype_bits * t->dtype_lanes) % 8 != 0) {
    return corrupt("invalid execution plan: %s %llu has an unsupported dtype (code %llu)",
                   "tensor", id, t->dtype_code);
  }
  if (t->ndim > RONN_MAX_NDIM) {
    return corrupt("invalid execution plan: %s %llu has %llu dimensions", "tensor", id, t->ndim);
  }
  if ((uint64_t)t->shape + t->ndim > c->num_shapes) {
    return corrupt("invalid execution plan: %s %llu: shape index %llu is outside the shape pool",
                   "tensor", id, t->shape);
  }
  uint64_t elements = 1;
  for (uint32_t d = 0; d < t->ndim; ++d) {
    int64_t dim = plan->shapes[t->shape + d];
    if (dim < 0 || (dim != 0 && elements > UINT64_MAX / (uint64_t)dim)) {
      return corrupt("invalid execution plan: %s %llu has an invalid dimension %llu", "tensor",
                     id, d);
    }
    elements *= (uint64_t)dim;
  }
  uint64_t element_size = (uint64_t)t->dtype_bits * t->dtype_lanes / 8;
  if (elements > UINT64_MAX / element_size || elements * element_size != t->nbytes) {
    return corrupt("invalid execution plan: %s %llu: nbytes %llu does not match its shape and "
                   "dtype",
                   "tensor", id, t->nbytes);
  }
  if (t->nbytes > MAX_TENSOR_BYTES) {
    return corrupt("invalid execution plan: %s %llu declares %llu bytes, more than any device "
                   "holds (1 TiB): refused before anything is allocated",
                   "tensor", id, t->nbytes);
  }
  if (t->align != 0) {
    /* Only graph inputs may be read at less than 64-byte alignment, and their views then start
     * at a multiple of it. */
    if (t->storage != RONN_STORAGE_INPUT || t->align > RONN_ALIGNMENT ||
        (t->align & (t->align - 1)) != 0 || t->offset % t->align != 0) {
      return corrupt("invalid execution plan: %s %llu: alignment %llu is not a power of two up "
                     "to 64 dividing the offset of a graph input",
                     "tensor", id, t->align);
    }
  }
  uint64_t limit;
  const char* where;
  switch (t->storage) {
    case RONN_STORAGE_ARENA:
    case RONN_STORAGE_WEIGHTS:
      if (t->offset % RONN_ALIGNMENT != 0) {
        return corrupt("invalid execution plan: %s %llu: offset %llu is not 64-byte aligned",
                       "tensor", id, t->offset);
      }
      limit = t->storage == RONN_STORAGE_ARENA ? h->arena_size : weights_size;
      where = t->storage == RONN_STORAGE_ARENA ? "the arena" : "the weights";
      break;
    case RONN_STORAGE_DEVICE_ARENA:
    case RONN_STORAGE_DEVICE_WEIGHTS:
      if (device == NULL) {
        return corrupt("invalid execution plan: %s %llu is stored on a device (storage %llu), but "
                       "the artifact has no device module",
                       "tensor", id, t->storage);
      }
      if (t->offset % RONN_ALIGNMENT != 0) {
        return corrupt("invalid execution plan: %s %llu: offset %llu is not 64-byte aligned",
                       "tensor", id, t->offset);
      }
      limit = t->storage == RONN_STORAGE_DEVICE_ARENA ? device->header->arena_size : weights_size;
      where = t->storage == RONN_STORAGE_DEVICE_ARENA ? "the device arena" : "the weights";
      break;
    case RONN_STORAGE_INPUT:
    case RONN_STORAGE_OUTPUT: {
      int input = t->storage == RONN_STORAGE_INPUT;
      if (t->index >= (input ? h->num_inputs : h->num_outputs)) {
        return corrupt("invalid execution plan: %s %llu refers to graph input/output %llu, out "
                       "of range",
                       "tensor", id, t->index);
      }
      limit = plan->tensors[(input ? plan->inputs : plan->outputs)[t->index]].nbytes;
      where = input ? "its graph input" : "its graph output";
      break;
    }
    default:
      return corrupt("invalid execution plan: %s %llu has an unknown storage kind %llu",
                     "tensor", id, t->storage);
  }
  if (!fits(t->offset, t->nbytes, limit)) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "invalid execution plan: tensor %u ('%s'): offset %llu + %llu bytes "
                            "lies outside %s (%llu bytes)",
                            id, ronn_plan_string(plan, t->name), (unsigned long long)t->offset,
                            (unsigned long long)t->nbytes, where, (unsigned long long)limit);
  }
  return NULL;
}

static ronn_status* check_step(const checker* c, const ronn_plan* plan, uint32_t index,
                               uint32_t num_kernels) {
  const ronn_plan_step_v1* s = &plan->steps[index];
  ronn_status* status = check_string(plan, "step", index, s->name);
  if (status != NULL) return status;
  if ((uint64_t)s->args + s->num_args > c->num_args) {
    return corrupt("invalid execution plan: %s %llu: arguments at index %llu lie outside the "
                   "args pool",
                   "step", index, s->args);
  }
  for (uint32_t a = 0; a < s->num_args; ++a) {
    if (plan->args[s->args + a] >= plan->header->num_tensors) {
      return corrupt("invalid execution plan: %s %llu: argument tensor %llu is out of range",
                     "step", index, plan->args[s->args + a]);
    }
  }
  if (s->kind == RONN_STEP_KERNEL) {
    if (s->kernel >= num_kernels) {
      return corrupt("invalid execution plan: %s %llu calls kernel %llu, but the artifact has "
                     "fewer kernels",
                     "step", index, s->kernel);
    }
    /* Kernels take their outputs last (destination-passing style, as TVM's call_tir): the last
     * argument is written, so it may not be the read-only weights (mapped from the file) or the
     * caller's input (found by fuzzing: a re-sealed plan pointing a kernel's output at the
     * weights crashed the process with a write fault). */
    if (s->num_args > 0) {
      uint8_t storage = plan->tensors[plan->args[s->args + s->num_args - 1]].storage;
      if (storage == RONN_STORAGE_WEIGHTS || storage == RONN_STORAGE_DEVICE_WEIGHTS ||
          storage == RONN_STORAGE_INPUT) {
        return corrupt("invalid execution plan: %s %llu writes its output into a read-only "
                       "tensor (weights or a graph input, storage %llu)",
                       "step", index, storage);
      }
    }
    return NULL;
  }
  if (s->kind != RONN_STEP_COPY) {
    return corrupt("invalid execution plan: %s %llu has an unknown kind %llu", "step", index,
                   s->kind);
  }
  if (s->num_args != 2) {
    return corrupt("invalid execution plan: %s %llu copies with %llu arguments instead of 2",
                   "step", index, s->num_args);
  }
  const ronn_plan_tensor_v1* src = &plan->tensors[plan->args[s->args]];
  const ronn_plan_tensor_v1* dst = &plan->tensors[plan->args[s->args + 1]];
  if (src->nbytes > dst->nbytes || dst->storage == RONN_STORAGE_WEIGHTS ||
      dst->storage == RONN_STORAGE_DEVICE_WEIGHTS || dst->storage == RONN_STORAGE_INPUT) {
    return corrupt("invalid execution plan: %s %llu copies %llu bytes into a smaller or "
                   "read-only tensor",
                   "step", index, src->nbytes);
  }
  return NULL;
}

ronn_status* ronn_plan_parse(const uint8_t* blob, uint64_t size, uint32_t num_kernels,
                             uint64_t weights_size, const ronn_device_module* device,
                             ronn_plan* out_plan) {
  memset(out_plan, 0, sizeof *out_plan);
  if (blob == NULL || size < HEADER_SIZE || (uintptr_t)blob % 8 != 0) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "invalid execution plan: missing, misaligned or shorter than its "
                            "%u-byte header (%llu bytes)",
                            (unsigned)HEADER_SIZE, (unsigned long long)size);
  }
  const ronn_plan_header_v1* h = (const ronn_plan_header_v1*)blob;
  if (h->magic != RONN_PLAN_MAGIC) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT, "invalid execution plan: bad magic 0x%08x",
                            h->magic);
  }
  if (h->version != RONN_ABI_VERSION) {
    return ronn_make_status(RONN_ABI_MISMATCH,
                            "execution plan version %u, this runtime reads version %u: recompile "
                            "the model",
                            h->version, RONN_ABI_VERSION);
  }
  checker c = {blob, size, h, 0, 0};
  uint64_t num_io = (uint64_t)h->num_inputs + h->num_outputs;
  ronn_status* status = NULL;
  if (status == NULL) {
    status = check_table(&c, "tensor", h->tensors_offset, h->num_tensors,
                         sizeof(ronn_plan_tensor_v1), 8);
  }
  if (status == NULL) {
    status = check_table(&c, "step", h->steps_offset, h->num_steps, sizeof(ronn_plan_step_v1), 8);
  }
  if (status == NULL) status = check_table(&c, "input", h->inputs_offset, h->num_inputs, 4, 4);
  if (status == NULL) status = check_table(&c, "output", h->outputs_offset, h->num_outputs, 4, 4);
  if (status == NULL) status = check_table(&c, "stage", h->stages_offset, num_io, 8, 8);
  if (status == NULL) status = check_table(&c, "string", h->strings_offset, h->strings_size, 1, 1);
  if (status != NULL) return status;
  if (h->strings_size == 0) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT, "invalid execution plan: empty string pool");
  }

  ronn_plan plan;
  plan.header = h;
  plan.tensors = (const ronn_plan_tensor_v1*)(blob + h->tensors_offset);
  plan.steps = (const ronn_plan_step_v1*)(blob + h->steps_offset);
  plan.inputs = (const uint32_t*)(blob + h->inputs_offset);
  plan.outputs = (const uint32_t*)(blob + h->outputs_offset);
  plan.stages = (const uint64_t*)(blob + h->stages_offset);
  plan.strings = (const char*)(blob + h->strings_offset);
  c.num_args = pool_entries(&c, h->args_offset, 4);
  c.num_shapes = pool_entries(&c, h->shapes_offset, 8);
  plan.args = (const uint32_t*)(blob + (c.num_args ? h->args_offset : 0));
  plan.shapes = (const int64_t*)(blob + (c.num_shapes ? h->shapes_offset : 0));

  status = check_string(&plan, "metadata", 0, h->metadata_string);
  if (status == NULL) status = check_io_list(&plan, "input", plan.inputs, h->num_inputs,
                                           RONN_STORAGE_INPUT);
  if (status == NULL) status = check_io_list(&plan, "output", plan.outputs, h->num_outputs,
                                           RONN_STORAGE_OUTPUT);
  for (uint32_t i = 0; status == NULL && i < h->num_tensors; ++i) {
    status = check_tensor(&c, &plan, i, weights_size, device);
  }
  for (uint32_t i = 0; status == NULL && i < h->num_steps; ++i) {
    status = check_step(&c, &plan, i, num_kernels);
  }
  for (uint64_t i = 0; status == NULL && i < num_io; ++i) {
    uint32_t id = i < h->num_inputs ? plan.inputs[i] : plan.outputs[i - h->num_inputs];
    if (plan.stages[i] % RONN_ALIGNMENT != 0 ||
        !fits(plan.stages[i], plan.tensors[id].nbytes, h->arena_size)) {
      status = corrupt("invalid execution plan: %s area %llu at arena offset %llu is misaligned "
                       "or outside the arena",
                       "staging", i, plan.stages[i]);
    }
  }
  if (status != NULL) return status;
  /* The compiler's arena is exactly what its tensors reach (up to alignment); much more is a
   * request for memory nothing uses, refused before a session allocates and clears it. */
  uint64_t reach = arena_reach(&plan);
  if (h->arena_size > reach + reach / 8 + ARENA_SLACK) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "invalid execution plan: it asks for a %llu-byte arena but its "
                            "tensors reach only %llu bytes: refused before allocating",
                            (unsigned long long)h->arena_size, (unsigned long long)reach);
  }
  plan.metadata = ronn_plan_string(&plan, h->metadata_string);
  *out_plan = plan;
  return NULL;
}
