/* ronn-aot's guest-instruction counter for qemu-user (TCG plugin API v1, QEMU >= 7.2).
 *
 * bench/aarch64.py compiles this file into its cache and loads it with
 *   qemu-aarch64 -plugin icount.so,out=FILE ...
 * At exit FILE holds one line: the number of guest instructions executed by all guest threads.
 *
 * Each translated block gets an inline 64-bit add of its instruction count, executed every time
 * the block runs: no callback per instruction, so counting costs little emulation speed. The add is
 * not atomic: with several guest threads a few increments may be lost, which is why the benchmark
 * counts with one thread.
 *
 * With `threads=on` each block calls back instead, adding to a counter per guest thread (qemu-user
 * runs each guest thread as a vCPU of its own): slower, exact with any number of threads, and the
 * file gets a line "vcpu I COUNT" per thread after the total, which shows how the work was shared. The handful of plugin API declarations
 * used are restated here, so no QEMU development headers are needed. */
#include <stdint.h>
#include <stdio.h>
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
void qemu_plugin_register_atexit_cb(plugin_id id, void (*cb)(plugin_id, void*), void* userdata);

#define EXPORT __attribute__((visibility("default")))

EXPORT int qemu_plugin_version = 1;

#define MAX_VCPUS 256

static uint64_t executed;    /* guest instructions, summed over every executed block */
static uint64_t per_vcpu[MAX_VCPUS];  /* threads=on: each guest thread's own count */
static int split_threads;
static char report[4096];    /* where to write the total ("" = stderr) */

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
}

EXPORT int qemu_plugin_install(plugin_id id, const struct qemu_info_t* info, int argc, char** argv) {
  (void)info;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      snprintf(report, sizeof report, "%s", argv[i] + 4);
    } else if (strcmp(argv[i], "threads=on") == 0) {
      split_threads = 1;
    } else {
      fprintf(stderr, "icount: unknown argument '%s' (expected out=FILE, threads=on)\n", argv[i]);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, count_block);
  qemu_plugin_register_atexit_cb(id, write_total, NULL);
  return 0;
}
