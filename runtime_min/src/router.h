/* The dual extension: System 1's plan and the router (see "Dual extension" in artifact_abi.h).
 * Not installed. */
#ifndef RONN_ROUTER_H_
#define RONN_ROUTER_H_

#include "internal.h"

/* Validates the dual blob of `path`'s descriptor against System 2's plan `full` and parses System
 * 1's plan into *out_plan. RONN_CORRUPT_ARTIFACT (or RONN_ABI_MISMATCH for another dual version)
 * names what is wrong; a router that reads a missing output, a non-float tensor or an unknown
 * signal or feature is refused here, never at run time. */
ronn_status* ronn_dual_parse(const char* path, const ronn_artifact_dual_v1* dual,
                             const ronn_artifact_v1* artifact, const ronn_plan* full,
                             ronn_plan* out_plan, const ronn_dual_header_v1** out_header);

/* The complexity score of one input tensor (float32, `count` elements, last axis `last`). */
double ronn_router_complexity(const ronn_dual_header_v1* router, const float* x, uint64_t count,
                              uint64_t last);

/* The confidence of one output (float32 rows of `classes` scores): its least confident row. */
double ronn_router_confidence(const ronn_dual_header_v1* router, const float* out, uint64_t count,
                              uint64_t classes);

#endif /* RONN_ROUTER_H_ */
