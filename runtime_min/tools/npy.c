#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ronn/artifact_abi.h"

#define MAX_HEADER (1u << 20)

typedef struct dtype_entry {
  char kind; /* NumPy kind character */
  uint8_t code;
  uint8_t bits;
  const char* name;
} dtype_entry;

static const dtype_entry dtypes[] = {
    {'f', RONN_DTYPE_FLOAT, 16, "float16"}, {'f', RONN_DTYPE_FLOAT, 32, "float32"},
    {'f', RONN_DTYPE_FLOAT, 64, "float64"}, {'i', RONN_DTYPE_INT, 8, "int8"},
    {'i', RONN_DTYPE_INT, 16, "int16"},     {'i', RONN_DTYPE_INT, 32, "int32"},
    {'i', RONN_DTYPE_INT, 64, "int64"},     {'u', RONN_DTYPE_UINT, 8, "uint8"},
    {'u', RONN_DTYPE_UINT, 16, "uint16"},   {'u', RONN_DTYPE_UINT, 32, "uint32"},
    {'u', RONN_DTYPE_UINT, 64, "uint64"},   {'b', RONN_DTYPE_BOOL, 8, "bool"},
};
#define NUM_DTYPES (sizeof dtypes / sizeof dtypes[0])

static const dtype_entry* find_dtype(ronn_dtype dtype) {
  if (dtype.lanes != 1) return NULL;
  for (size_t i = 0; i < NUM_DTYPES; ++i) {
    if (dtypes[i].code == dtype.code && dtypes[i].bits == dtype.bits) return &dtypes[i];
  }
  return NULL;
}

const char* npy_dtype_name(ronn_dtype dtype) {
  const dtype_entry* entry = find_dtype(dtype);
  return entry != NULL ? entry->name : NULL;
}

/* Finds `'key':` in the header dict and returns the text after the colon. */
static const char* find_value(const char* header, const char* key) {
  char quoted[32];
  const char* quotes = "'\"";
  for (int q = 0; q < 2; ++q) {
    snprintf(quoted, sizeof quoted, "%c%s%c", quotes[q], key, quotes[q]);
    const char* at = strstr(header, quoted);
    if (at == NULL) continue;
    at += strlen(quoted);
    while (isspace((unsigned char)*at)) ++at;
    if (*at != ':') return NULL;
    ++at;
    while (isspace((unsigned char)*at)) ++at;
    return at;
  }
  return NULL;
}

static int parse_descr(const char* value, ronn_dtype* dtype, char* error, size_t error_size) {
  char descr[32];
  size_t n = 0;
  if (value == NULL || (*value != '\'' && *value != '"')) {
    snprintf(error, error_size, "unsupported dtype (structured or missing 'descr')");
    return 1;
  }
  char quote = *value++;
  while (*value != '\0' && *value != quote && n + 1 < sizeof descr) descr[n++] = *value++;
  descr[n] = '\0';
  char order = descr[0], kind = descr[1];
  char* end = NULL;
  long size = n >= 3 ? strtol(descr + 2, &end, 10) : 0;
  if (n < 3 || *end != '\0' || size <= 0 || size > 8 || strchr("<>|=", order) == NULL) {
    snprintf(error, error_size, "unsupported dtype '%s'", descr);
    return 1;
  }
  if (order == '>' && size > 1) {
    snprintf(error, error_size,
             "big-endian dtype '%s' is not supported: save arr.astype(arr.dtype.newbyteorder('<'))",
             descr);
    return 1;
  }
  for (size_t i = 0; i < NUM_DTYPES; ++i) {
    if (dtypes[i].kind == kind && dtypes[i].bits == size * 8) {
      dtype->code = dtypes[i].code;
      dtype->bits = dtypes[i].bits;
      dtype->lanes = 1;
      return 0;
    }
  }
  snprintf(error, error_size,
           "unsupported dtype '%s': use bool, int8-64, uint8-64 or float16/32/64", descr);
  return 1;
}

static int parse_shape(const char* value, npy_array* out, char* error, size_t error_size) {
  if (value == NULL || *value != '(') {
    snprintf(error, error_size, "header has no 'shape' tuple");
    return 1;
  }
  ++value;
  out->ndim = 0;
  for (;;) {
    while (isspace((unsigned char)*value) || *value == ',') ++value;
    if (*value == ')') return 0;
    char* end = NULL;
    errno = 0;
    long long dim = strtoll(value, &end, 10);
    if (end == value || errno != 0 || dim < 0) {
      snprintf(error, error_size, "malformed 'shape' in header");
      return 1;
    }
    if (out->ndim == NPY_MAX_NDIM) {
      snprintf(error, error_size, "more than %d dimensions", NPY_MAX_NDIM);
      return 1;
    }
    out->shape[out->ndim++] = dim;
    value = end;
    if (*value == 'L') ++value; /* Python 2 longs */
  }
}

static int parse_header(const char* header, npy_array* out, char* error, size_t error_size) {
  if (parse_descr(find_value(header, "descr"), &out->dtype, error, error_size)) return 1;
  const char* fortran = find_value(header, "fortran_order");
  if (fortran == NULL || (strncmp(fortran, "False", 5) != 0 && strncmp(fortran, "True", 4) != 0)) {
    snprintf(error, error_size, "header has no valid 'fortran_order'");
    return 1;
  }
  if (strncmp(fortran, "True", 4) == 0) {
    snprintf(error, error_size,
             "Fortran-order arrays are not supported: save np.ascontiguousarray(arr)");
    return 1;
  }
  if (parse_shape(find_value(header, "shape"), out, error, error_size)) return 1;
  uint64_t elements = 1;
  for (int32_t d = 0; d < out->ndim; ++d) {
    uint64_t dim = (uint64_t)out->shape[d];
    if (dim != 0 && elements > UINT64_MAX / 8 / dim) {
      snprintf(error, error_size, "shape is too large");
      return 1;
    }
    elements *= dim;
  }
  out->nbytes = elements * (out->dtype.bits / 8);
  return 0;
}

static int read_body(FILE* file, npy_array* out, char* error, size_t error_size) {
  char magic[8];
  unsigned char length_bytes[4];
  if (fread(magic, 1, 8, file) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0) {
    snprintf(error, error_size, "not a .npy file (bad magic)");
    return 1;
  }
  int major = (unsigned char)magic[6];
  size_t length_size = major == 1 ? 2 : 4;
  if (major < 1 || major > 3) {
    snprintf(error, error_size, ".npy format version %d is not supported", major);
    return 1;
  }
  if (fread(length_bytes, 1, length_size, file) != length_size) {
    snprintf(error, error_size, "truncated .npy header");
    return 1;
  }
  uint32_t header_length = (uint32_t)length_bytes[0] | (uint32_t)length_bytes[1] << 8;
  if (length_size == 4) {
    header_length |= (uint32_t)length_bytes[2] << 16 | (uint32_t)length_bytes[3] << 24;
  }
  if (header_length > MAX_HEADER) {
    snprintf(error, error_size, ".npy header of %u bytes is too large", header_length);
    return 1;
  }
  char* header = (char*)malloc(header_length + 1);
  if (header == NULL) {
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  int failed = fread(header, 1, header_length, file) != header_length;
  header[failed ? 0 : header_length] = '\0';
  if (failed) {
    snprintf(error, error_size, "truncated .npy header");
  } else {
    failed = parse_header(header, out, error, error_size);
  }
  free(header);
  if (failed) return 1;
  if (out->nbytes > SIZE_MAX - 64 ||
      posix_memalign(&out->data, 64, out->nbytes > 0 ? (size_t)out->nbytes : 1) != 0) {
    out->data = NULL;
    snprintf(error, error_size, "out of memory for %llu bytes of data",
             (unsigned long long)out->nbytes);
    return 1;
  }
  size_t got = fread(out->data, 1, (size_t)out->nbytes, file);
  if (got != out->nbytes) {
    snprintf(error, error_size, "truncated: the file holds %zu bytes of data, its header says %llu",
             got, (unsigned long long)out->nbytes);
    return 1;
  }
  return 0;
}

int npy_read(const char* path, npy_array* out, char* error, size_t error_size) {
  memset(out, 0, sizeof *out);
  FILE* file = fopen(path, "rb");
  if (file == NULL) {
    snprintf(error, error_size, "cannot open: %s", strerror(errno));
    return 1;
  }
  int failed = read_body(file, out, error, error_size);
  fclose(file);
  if (failed) npy_free(out);
  return failed;
}

void npy_free(npy_array* array) {
  free(array->data);
  array->data = NULL;
}

int npy_write(const char* path, ronn_dtype dtype, int32_t ndim, const int64_t* shape,
              const void* data, uint64_t nbytes, char* error, size_t error_size) {
  const dtype_entry* entry = find_dtype(dtype);
  if (entry == NULL) {
    snprintf(error, error_size, "dtype has no .npy equivalent");
    return 1;
  }
  char header[64 + NPY_MAX_NDIM * 24 + 64];
  int used = snprintf(header, sizeof header, "{'descr': '%c%c%u', 'fortran_order': False, 'shape': (",
                      entry->bits == 8 ? '|' : '<', entry->kind, entry->bits / 8u);
  for (int32_t d = 0; d < ndim && d < NPY_MAX_NDIM; ++d) {
    used += snprintf(header + used, sizeof header - (size_t)used, "%lld,%s", (long long)shape[d],
                     ndim > 1 && d + 1 < ndim ? " " : "");
  }
  if (ndim > 1) --used; /* "(2, 3)" but "(5,)" for one dimension */
  used += snprintf(header + used, sizeof header - (size_t)used, "), }");
  /* Pad so that the data starts 64-byte aligned, as NumPy does; the header ends with '\n'. */
  size_t total = 10 + (size_t)used + 1;
  size_t padded = (total + 63) / 64 * 64;
  memset(header + used, ' ', padded - total);
  header[padded - 10 - 1] = '\n';
  uint16_t header_length = (uint16_t)(padded - 10);
  unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                (unsigned char)(header_length & 0xff),
                                (unsigned char)(header_length >> 8)};
  FILE* file = fopen(path, "wb");
  if (file == NULL) {
    snprintf(error, error_size, "cannot create: %s", strerror(errno));
    return 1;
  }
  int failed = fwrite(preamble, 1, 10, file) != 10 ||
               fwrite(header, 1, header_length, file) != header_length ||
               (nbytes > 0 && fwrite(data, 1, (size_t)nbytes, file) != nbytes);
  if (fclose(file) != 0) failed = 1;
  if (failed) snprintf(error, error_size, "write failed: %s", strerror(errno));
  return failed;
}
