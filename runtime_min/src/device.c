/* Validation of the optional device blob (artifacts built for a GPU target), and the table of
 * device implementations. Everything a device implementation later reads without checks (image
 * ranges, kernel names, the byte pool) is checked here at load time, without a driver, so a
 * corrupted blob is RONN_CORRUPT_ARTIFACT on any machine. */
#include <stdio.h>
#include <string.h>

#include "device.h"

/* The device implementations, one per file (device.h). */
static const ronn_device_ops* const devices[] = {&ronn_cuda_device_ops};
#define NUM_DEVICES (sizeof devices / sizeof devices[0])

const ronn_device_ops* ronn_device_ops_find(uint32_t device_type) {
  for (size_t i = 0; i < NUM_DEVICES; ++i) {
    if (devices[i]->device_type == device_type) return devices[i];
  }
  return NULL;
}

typedef char check_device_header_size[sizeof(ronn_device_header_v1) == 56 ? 1 : -1];
typedef char check_device_image_size[sizeof(ronn_device_image_v1) == 24 ? 1 : -1];
typedef char check_device_kernel_size[sizeof(ronn_device_kernel_v1) == 24 ? 1 : -1];

static int fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

static ronn_status* corrupt(const char* what, uint64_t index) {
  return ronn_make_status(RONN_CORRUPT_ARTIFACT, "invalid device module: %s (entry %llu)", what,
                          (unsigned long long)index);
}

const char* ronn_device_kernel_name(const ronn_device_module* module, uint32_t index) {
  return module->strings + module->kernels[index].name;
}

ronn_status* ronn_device_module_parse(const uint8_t* blob, uint64_t size,
                                      ronn_device_module* out) {
  memset(out, 0, sizeof *out);
  if (blob == NULL || size < sizeof(ronn_device_header_v1) || (uintptr_t)blob % 8 != 0) {
    return corrupt("missing, misaligned or shorter than its header", 0);
  }
  const ronn_device_header_v1* h = (const ronn_device_header_v1*)blob;
  if (h->magic != RONN_DEVICE_MAGIC) return corrupt("bad magic number", 0);
  if (h->version != RONN_DEVICE_VERSION) {
    return ronn_make_status(RONN_ABI_MISMATCH,
                            "device module version %u, this runtime reads version %u: recompile "
                            "the model",
                            h->version, RONN_DEVICE_VERSION);
  }
  const ronn_device_ops* ops = ronn_device_ops_find(h->device_type);
  if (ops == NULL) {
    char known[128];
    size_t used = 0;
    known[0] = '\0';
    for (size_t i = 0; i < NUM_DEVICES && used < sizeof known; ++i) {
      int n = snprintf(known + used, sizeof known - used, "%s%s (device type %u)", i ? ", " : "",
                       devices[i]->name, devices[i]->device_type);
      if (n < 0) break;
      used += (size_t)n;
    }
    return ronn_make_status(RONN_UNAVAILABLE,
                            "the artifact's kernels are for DLPack device type %u; this runtime "
                            "runs %s only",
                            h->device_type, known);
  }
  if (h->images_offset % 8 || h->kernels_offset % 8 ||
      !fits(h->images_offset, (uint64_t)h->num_images * sizeof(ronn_device_image_v1), size) ||
      !fits(h->kernels_offset, (uint64_t)h->num_kernels * sizeof(ronn_device_kernel_v1), size) ||
      !fits(h->bytes_offset, h->bytes_size, size) || !fits(h->strings_offset, h->strings_size, size) ||
      h->strings_size == 0 || blob[h->strings_offset + h->strings_size - 1] != '\0') {
    return corrupt("a table lies outside the blob or is misaligned", 0);
  }
  if (h->num_images == 0) return corrupt("no device images", 0);
  ronn_device_module m;
  m.ops = ops;
  m.header = h;
  m.images = (const ronn_device_image_v1*)(blob + h->images_offset);
  m.kernels = (const ronn_device_kernel_v1*)(blob + h->kernels_offset);
  m.bytes = blob + h->bytes_offset;
  m.strings = (const char*)(blob + h->strings_offset);
  m.blob = blob;
  m.size = size;
  m.max_params = 0;
  for (uint32_t i = 0; i < h->num_images; ++i) {
    const ronn_device_image_v1* img = &m.images[i];
    if ((img->format != RONN_IMAGE_CUBIN && img->format != RONN_IMAGE_PTX) ||
        !fits(img->offset, img->size, size) || img->size == 0 || img->offset % 8 != 0) {
      return corrupt("image with an unknown format, or outside the blob", i);
    }
    if (img->format == RONN_IMAGE_PTX && blob[img->offset + img->size - 1] != '\0') {
      return corrupt("PTX image is not NUL-terminated", i);
    }
  }
  for (uint32_t i = 0; i < h->num_kernels; ++i) {
    const ronn_device_kernel_v1* k = &m.kernels[i];
    if (k->name >= h->strings_size || !fits(k->params, k->num_params, h->bytes_size) ||
        !fits(k->launch, k->num_launch, h->bytes_size) || k->num_params > RONN_MAX_DEVICE_PARAMS) {
      return corrupt("kernel descriptor outside the string or byte pool", i);
    }
    for (uint32_t p = 0; p < k->num_params; ++p) {
      uint8_t kind = m.bytes[k->params + p];
      if (kind < RONN_PARAM_POINTER || kind > RONN_PARAM_FLOAT64) {
        return corrupt("kernel parameter of an unknown kind", i);
      }
    }
    for (uint32_t l = 0; l < k->num_launch; ++l) {
      if (m.bytes[k->launch + l] > RONN_LAUNCH_DYN_SHARED) {
        return corrupt("kernel launch value with an unknown tag", i);
      }
    }
    if (k->num_params > m.max_params) m.max_params = k->num_params;
  }
  *out = m;
  return NULL;
}
