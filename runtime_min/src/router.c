/* The dual extension: validating System 1's plan and the router, and the router's arithmetic.
 * The numbers mirror ronn_aot/dual/signals.py (double precision throughout), so thresholds the
 * compiler calibrated decide here as they did there. */
#include <math.h>
#include <string.h>

#include "router.h"

static ronn_status* malformed(const char* path, const char* what) {
  return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                          "'%s': the dual artifact's router is malformed (%s): recompile it with "
                          "`ronn-aot compile --dual`",
                          path, what);
}

static int same_tensor(const ronn_plan* a, uint32_t ta, const ronn_plan* b, uint32_t tb) {
  const ronn_plan_tensor_v1* x = &a->tensors[ta];
  const ronn_plan_tensor_v1* y = &b->tensors[tb];
  if (strcmp(ronn_plan_string(a, x->name), ronn_plan_string(b, y->name)) != 0 ||
      x->dtype_code != y->dtype_code || x->dtype_bits != y->dtype_bits ||
      x->dtype_lanes != y->dtype_lanes || x->ndim != y->ndim) {
    return 0;
  }
  for (uint32_t d = 0; d < x->ndim; ++d) {
    if (a->shapes[x->shape + d] != b->shapes[y->shape + d]) return 0;
  }
  return 1;
}

static int is_float32(const ronn_plan_tensor_v1* t) {
  return t->dtype_code == RONN_DTYPE_FLOAT && t->dtype_bits == 32 && t->dtype_lanes == 1;
}

static ronn_status* check_router(const char* path, const ronn_dual_header_v1* h,
                                 const ronn_plan* full) {
  if ((h->router & ~(RONN_ROUTER_COMPLEXITY | RONN_ROUTER_CONFIDENCE)) != 0) {
    return malformed(path, "unknown router kind");
  }
  if (h->router & RONN_ROUTER_CONFIDENCE) {
    if (h->confidence_output >= full->header->num_outputs) {
      return malformed(path, "confidence reads an output the model does not have");
    }
    const ronn_plan_tensor_v1* t = &full->tensors[full->outputs[h->confidence_output]];
    if (!is_float32(t) || t->ndim < 1 || full->shapes[t->shape + t->ndim - 1] < 2) {
      return malformed(path, "confidence reads an output that is not float32 class scores");
    }
    if (h->confidence_signal < RONN_SIGNAL_MAX_PROB ||
        h->confidence_signal > RONN_SIGNAL_NEG_ENTROPY) {
      return malformed(path, "unknown confidence signal");
    }
    if ((h->confidence_flags & ~RONN_CONFIDENCE_SOFTMAX) != 0 || isnan(h->confidence_threshold)) {
      return malformed(path, "unknown confidence flags or a NaN threshold");
    }
  }
  if (h->router & RONN_ROUTER_COMPLEXITY) {
    if (h->complexity_input >= full->header->num_inputs ||
        !is_float32(&full->tensors[full->inputs[h->complexity_input]])) {
      return malformed(path, "complexity reads an input the model does not have, or not float32");
    }
    if (h->complexity_num_features > RONN_DUAL_MAX_FEATURES) {
      return malformed(path, "too many complexity features");
    }
    for (uint32_t i = 0; i < h->complexity_num_features; ++i) {
      if (h->complexity_features[i] < RONN_FEATURE_MEAN ||
          h->complexity_features[i] > RONN_FEATURE_FRACTION_ABOVE_MEAN) {
        return malformed(path, "unknown complexity feature");
      }
      if (!isfinite(h->complexity_weights[i])) return malformed(path, "a non-finite feature weight");
    }
    if (!isfinite(h->complexity_bias) || isnan(h->complexity_threshold)) {
      return malformed(path, "a non-finite complexity bias or a NaN threshold");
    }
  }
  return NULL;
}

ronn_status* ronn_dual_parse(const char* path, const ronn_artifact_dual_v1* dual,
                             const ronn_artifact_v1* artifact, const ronn_plan* full,
                             ronn_plan* out_plan, const ronn_dual_header_v1** out_header) {
  *out_header = NULL;
  const ronn_dual_header_v1* h = (const ronn_dual_header_v1*)dual->blob;
  if (h == NULL || (uintptr_t)h % 8 != 0 || dual->blob_size < sizeof *h) {
    return malformed(path, "the dual blob is missing, misaligned or shorter than its header");
  }
  if (h->magic != RONN_DUAL_MAGIC || h->header_size != sizeof *h) {
    return malformed(path, "bad magic number or header size");
  }
  if (h->version != RONN_DUAL_VERSION) {
    return ronn_make_status(RONN_ABI_MISMATCH,
                            "'%s': dual extension version %u, this runtime reads version %u: "
                            "recompile the model with a matching ronn-aot",
                            path, h->version, RONN_DUAL_VERSION);
  }
  if (h->plan_offset % 8 != 0 || h->plan_offset < sizeof *h || h->plan_offset > dual->blob_size ||
      h->plan_size > dual->blob_size - h->plan_offset) {
    return malformed(path, "System 1's plan lies outside the dual blob");
  }
  ronn_status* status = ronn_plan_parse(dual->blob + h->plan_offset, h->plan_size,
                                        artifact->num_kernels, artifact->weights_size, NULL,
                                        out_plan);
  if (status != NULL) return status;
  const ronn_plan_header_v1* a = full->header;
  const ronn_plan_header_v1* b = out_plan->header;
  int same = a->num_inputs == b->num_inputs && a->num_outputs == b->num_outputs;
  for (uint32_t i = 0; same && i < a->num_inputs; ++i) {
    same = same_tensor(full, full->inputs[i], out_plan, out_plan->inputs[i]);
  }
  for (uint32_t i = 0; same && i < a->num_outputs; ++i) {
    same = same_tensor(full, full->outputs[i], out_plan, out_plan->outputs[i]);
  }
  if (!same) return malformed(path, "System 1's inputs or outputs differ from System 2's");
  status = check_router(path, h, full);
  if (status == NULL) *out_header = h;
  return status;
}

static double feature(uint32_t kind, const float* x, uint64_t count, uint64_t last, double mean) {
  double sum = 0.0;
  switch (kind) {
    case RONN_FEATURE_MEAN:
      return mean;
    case RONN_FEATURE_STD:
      for (uint64_t i = 0; i < count; ++i) sum += ((double)x[i] - mean) * ((double)x[i] - mean);
      return sqrt(sum / (double)count);
    case RONN_FEATURE_MEAN_ABS_DIFF: {
      if (last < 2) return 0.0;
      uint64_t n = 0;
      for (uint64_t row = 0; row + last <= count; row += last) {
        for (uint64_t i = 1; i < last; ++i) sum += fabs((double)x[row + i] - (double)x[row + i - 1]);
        n += last - 1;
      }
      return n > 0 ? sum / (double)n : 0.0;
    }
    case RONN_FEATURE_FRACTION_ABOVE_MEAN:
      for (uint64_t i = 0; i < count; ++i) sum += (double)x[i] > mean ? 1.0 : 0.0;
      return sum / (double)count;
    default:
      return 0.0; /* refused at load */
  }
}

double ronn_router_complexity(const ronn_dual_header_v1* router, const float* x, uint64_t count,
                              uint64_t last) {
  double mean = 0.0;
  for (uint64_t i = 0; i < count; ++i) mean += (double)x[i];
  mean = count > 0 ? mean / (double)count : 0.0;
  double score = router->complexity_bias;
  for (uint32_t f = 0; f < router->complexity_num_features; ++f) {
    score += router->complexity_weights[f] *
             (count > 0 ? feature(router->complexity_features[f], x, count, last, mean) : 0.0);
  }
  return score;
}

/* Rows of up to this many classes keep their exponentials for the second pass (the same values
 * recomputed otherwise: exp is deterministic). */
#define CACHED_CLASSES 64

/* Runs after every System 1 run of route=auto: the log of each probability only for the entropy
 * signal, each exponential once (MNIST's 10 classes: 20 exp and 10 log calls before, 10 exp). */
static double row_confidence(const ronn_dual_header_v1* router, const float* row, uint64_t n) {
  int softmax = (router->confidence_flags & RONN_CONFIDENCE_SOFTMAX) != 0;
  int entropy_signal = router->confidence_signal == RONN_SIGNAL_NEG_ENTROPY;
  double cached[CACHED_CLASSES];
  double peak = (double)row[0];
  for (uint64_t i = 1; i < n; ++i) peak = (double)row[i] > peak ? (double)row[i] : peak;
  double total = 0.0;
  if (softmax) {
    for (uint64_t i = 0; i < n; ++i) {
      double e = exp((double)row[i] - peak);
      if (i < CACHED_CLASSES) cached[i] = e;
      total += e;
    }
  }
  double first = -INFINITY, second = -INFINITY, entropy = 0.0;
  for (uint64_t i = 0; i < n; ++i) {
    double p = !softmax ? (double)row[i]
               : (i < CACHED_CLASSES ? cached[i] : exp((double)row[i] - peak)) / total;
    if (p > first) {
      second = first;
      first = p;
    } else if (p > second) {
      second = p;
    }
    if (entropy_signal && p > 0.0) entropy += p * log(p);
  }
  switch (router->confidence_signal) {
    case RONN_SIGNAL_MAX_PROB: return first;
    case RONN_SIGNAL_MARGIN: return first - second;
    default: return entropy;
  }
}

double ronn_router_confidence(const ronn_dual_header_v1* router, const float* out, uint64_t count,
                              uint64_t classes) {
  double least = INFINITY;
  for (uint64_t row = 0; row + classes <= count; row += classes) {
    double c = row_confidence(router, out + row, classes);
    /* A NaN output is never confident: System 2 answers. */
    if (isnan(c)) return -INFINITY;
    if (c < least) least = c;
  }
  return least;
}
