/* ronn-aot's guest-instruction counter for qemu-user (TCG plugin API v1, QEMU >= 7.2).
 *
 * bench/aarch64.py and tools/qemu_runner.py (ronn-aot tune) compile this file into their caches and load it with
 *   qemu-aarch64 -plugin icount.so,out=FILE ...
 * At exit FILE holds one line: the number of guest instructions executed by all guest threads.
 *
 * Each translated block gets an inline 64-bit add of its instruction count, executed every time
 * the block runs: no callback per instruction, so counting costs little emulation speed. The add is
 * not atomic: qemu-user runs guest threads in parallel, and the increments that race are lost (in
 * onnxruntime's process, where a second thread works during start-up, by tens of millions), so
 * the benchmark counts with `threads=on`.
 *
 * With `threads=on` each block calls back instead, adding to a counter per guest thread (qemu-user
 * runs each guest thread as a vCPU of its own): slower, exact with any number of threads, and the
 * file gets a line "vcpu I COUNT" per thread after the total, which shows how the work was shared.
 *
 * With `blocks=FILE` each translated block also counts its own executions (inline, like the total:
 * exact for a one-thread process),
 * and at exit FILE gets a line "INSTRUCTIONS OFFSET PATH" per place in a mapped file that ran:
 * OFFSET is the block's offset in the file PATH that qemu mapped it from (found when the block is
 * translated, through its host address and the qemu process's own /proc/self/maps), so a reader can name the function with
 * the file's symbol table (bench/aarch64_profile.py: instructions per kernel of an artifact).
 * The handful of plugin API declarations used are restated here, so no QEMU development headers
 * are needed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t plugin_id;
struct qemu_plugin_tb;
struct qemu_info_t;
enum inline_op { INLINE_ADD_U64 = 0 };

void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id id, void (*cb)(plugin_id, struct qemu_plugin_tb*));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb* tb, enum inline_op op, void* ptr,
                                              uint64_t imm);
enum cb_flags { CB_NO_REGS = 0 };
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb* tb, void (*cb)(unsigned int vcpu, void* udata),
                                          enum cb_flags flags, void* udata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
struct qemu_plugin_insn;
struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
void* qemu_plugin_insn_haddr(const struct qemu_plugin_insn* insn);
void qemu_plugin_register_atexit_cb(plugin_id id, void (*cb)(plugin_id, void*), void* userdata);

#define EXPORT __attribute__((visibility("default")))

EXPORT int qemu_plugin_version = 1;

#define MAX_VCPUS 256

static uint64_t executed;    /* guest instructions, summed over every executed block */
static uint64_t per_vcpu[MAX_VCPUS];  /* threads=on: each guest thread's own count */
static int split_threads;
static char report[4096];    /* where to write the total ("" = stderr) */
static char blocks_report[4096];  /* blocks=FILE: where to write the per-block counts ("" = none) */

/* One translated block: where its code came from (a file and offset; path -1: not from a file)
 * and how often it ran. The place is found when the block is translated, while the file is still
 * mapped (an artifact is dlclose'd before exit). A block translated again (after a flush) gets a
 * second record; the reader adds them up by place. */
struct block_record {
  int path;
  uint64_t offset;
  uint64_t insns;
  uint64_t runs;
};
static struct block_record** records;
static size_t num_records, cap_records;

/* The qemu process's file mappings, re-read from /proc/self/maps when a block lies in none. */
struct mapping {
  uintptr_t lo, hi;
  uint64_t offset;
  int path;
};
static struct mapping mappings[4096];
static size_t num_mappings;
static char* paths[1024];
static int num_paths;

static int path_id(const char* path) {
  for (int i = 0; i < num_paths; ++i)
    if (strcmp(paths[i], path) == 0) return i;
  if (num_paths == (int)(sizeof paths / sizeof paths[0])) return -1;
  paths[num_paths] = strdup(path);
  return paths[num_paths] != NULL ? num_paths++ : -1;
}

static void read_mappings(void) {
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps == NULL) return;
  char line[4608];
  num_mappings = 0;
  while (num_mappings < sizeof mappings / sizeof mappings[0] && fgets(line, sizeof line, maps) != NULL) {
    unsigned long long lo, hi, offset;
    char path[4096] = "";
    if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4095[^\n]", &lo, &hi, &offset, path) < 3 || path[0] != '/')
      continue;
    mappings[num_mappings++] = (struct mapping){(uintptr_t)lo, (uintptr_t)hi, offset, path_id(path)};
  }
  fclose(maps);
}

static const struct mapping* find_mapping(uintptr_t haddr) {
  for (size_t i = 0; i < num_mappings; ++i)
    if (haddr >= mappings[i].lo && haddr < mappings[i].hi) return &mappings[i];
  return NULL;
}

static struct block_record* new_record(uintptr_t haddr, uint64_t insns) {
  if (num_records == cap_records) {
    size_t cap = cap_records ? 2 * cap_records : 4096;
    struct block_record** grown = realloc(records, cap * sizeof *grown);
    if (grown == NULL) return NULL;
    records = grown;
    cap_records = cap;
  }
  struct block_record* r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  const struct mapping* m = find_mapping(haddr);
  if (m == NULL) {
    read_mappings();
    m = find_mapping(haddr);
  }
  r->path = m != NULL ? m->path : -1;
  r->offset = m != NULL ? haddr - m->lo + m->offset : haddr;
  r->insns = insns;
  records[num_records++] = r;
  return r;
}

static void count_on_vcpu(unsigned int vcpu, void* insns) {
  /* Only guest thread `vcpu` writes its slot: no race. Threads past MAX_VCPUS share the last. */
  per_vcpu[vcpu < MAX_VCPUS ? vcpu : MAX_VCPUS - 1] += (uint64_t)(uintptr_t)insns;
}

static void count_block(plugin_id id, struct qemu_plugin_tb* tb) {
  (void)id;
  size_t insns = qemu_plugin_tb_n_insns(tb);
  if (split_threads) {
    qemu_plugin_register_vcpu_tb_exec_cb(tb, count_on_vcpu, CB_NO_REGS, (void*)(uintptr_t)insns);
  } else {
    qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &executed, insns);
  }
  if (blocks_report[0] != '\0' && insns > 0) {
    struct block_record* r = new_record((uintptr_t)qemu_plugin_insn_haddr(qemu_plugin_tb_get_insn(tb, 0)), insns);
    if (r != NULL) qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &r->runs, 1);
  }
}

/* blocks=FILE: "INSTRUCTIONS OFFSET PATH" per executed block ("-" for code not from a file). */
static void write_blocks(void) {
  FILE* out = fopen(blocks_report, "w");
  if (out == NULL) {
    fprintf(stderr, "icount: cannot write %s\n", blocks_report);
    return;
  }
  for (size_t i = 0; i < num_records; ++i) {
    const struct block_record* r = records[i];
    if (r->runs != 0)
      fprintf(out, "%llu %llu %s\n", (unsigned long long)(r->insns * r->runs), (unsigned long long)r->offset,
              r->path >= 0 ? paths[r->path] : "-");
  }
  fclose(out);
}

static void write_total(plugin_id id, void* unused) {
  (void)id;
  (void)unused;
  FILE* out = report[0] != '\0' ? fopen(report, "w") : NULL;
  FILE* to = out != NULL ? out : stderr;
  uint64_t total = executed;
  for (int i = 0; i < MAX_VCPUS; ++i) total += per_vcpu[i];
  fprintf(to, "%llu\n", (unsigned long long)total);
  for (int i = 0; split_threads && i < MAX_VCPUS; ++i)
    if (per_vcpu[i] != 0) fprintf(to, "vcpu %d %llu\n", i, (unsigned long long)per_vcpu[i]);
  if (out != NULL) fclose(out);
  if (blocks_report[0] != '\0') write_blocks();
}

EXPORT int qemu_plugin_install(plugin_id id, const struct qemu_info_t* info, int argc, char** argv) {
  (void)info;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      snprintf(report, sizeof report, "%s", argv[i] + 4);
    } else if (strcmp(argv[i], "threads=on") == 0) {
      split_threads = 1;
    } else if (strncmp(argv[i], "blocks=", 7) == 0) {
      snprintf(blocks_report, sizeof blocks_report, "%s", argv[i] + 7);
    } else {
      fprintf(stderr, "icount: unknown argument '%s' (expected out=FILE, threads=on, blocks=FILE)\n", argv[i]);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, count_block);
  qemu_plugin_register_atexit_cb(id, write_total, NULL);
  return 0;
}
