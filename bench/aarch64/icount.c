/* ronn-aot's guest-instruction counter for qemu-user (TCG plugin API v1, QEMU >= 7.2).
 *
 * bench/aarch64.py compiles this file into its cache and loads it with
 *   qemu-aarch64 -plugin icount.so,out=FILE ...
 * At exit FILE holds one line: the number of guest instructions executed by all guest threads.
 *
 * Each translated block gets an inline 64-bit add of its instruction count, executed every time
 * the block runs: no callback per instruction, so counting costs little emulation speed. The add is
 * not atomic: with several guest threads a few increments may be lost, which is why the benchmark
 * counts with one thread and checks threading separately. The handful of plugin API declarations
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
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
void qemu_plugin_register_atexit_cb(plugin_id id, void (*cb)(plugin_id, void*), void* userdata);

#define EXPORT __attribute__((visibility("default")))

EXPORT int qemu_plugin_version = 1;

static uint64_t executed;    /* guest instructions, summed over every executed block */
static char report[4096];    /* where to write the total ("" = stderr) */

static void count_block(plugin_id id, struct qemu_plugin_tb* tb) {
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &executed, qemu_plugin_tb_n_insns(tb));
}

static void write_total(plugin_id id, void* unused) {
  (void)id;
  (void)unused;
  FILE* out = report[0] != '\0' ? fopen(report, "w") : NULL;
  fprintf(out != NULL ? out : stderr, "%llu\n", (unsigned long long)executed);
  if (out != NULL) fclose(out);
}

EXPORT int qemu_plugin_install(plugin_id id, const struct qemu_info_t* info, int argc, char** argv) {
  (void)info;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      snprintf(report, sizeof report, "%s", argv[i] + 4);
    } else {
      fprintf(stderr, "icount: unknown argument '%s' (expected out=FILE)\n", argv[i]);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, count_block);
  qemu_plugin_register_atexit_cb(id, write_total, NULL);
  return 0;
}
