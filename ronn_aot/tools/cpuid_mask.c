/* cpuid_mask: this process sees a CPU without some instruction-set extensions.
 *
 * Why: `ronn-aot bench --target x86_64-avx2` on an AVX-512 machine would compare our AVX2 kernels
 * with onnxruntime's (and numpy's OpenBLAS') AVX-512 ones, which no AVX2 device runs. Hiding
 * AVX-512 from the whole benchmark process makes those libraries pick the code they would pick on
 * the target's CPU, on the same cores and caches (ronn_aot/tools/peer_isa.py).
 *
 * How: Linux's CPUID faulting (arch_prctl(ARCH_SET_CPUID, 0), Intel since Ivy Bridge, kept across
 * clone, reset by execve) turns every CPUID instruction of the process into a SIGSEGV. Our handler
 * runs the real CPUID (faulting off for that one instruction), clears the hidden bits and resumes
 * after the instruction. Loaded through LD_PRELOAD, so it is in place before any library asks the
 * CPU what it has. Handlers that others install for SIGSEGV (TVM's backtraces, Python's faulthandler)
 * are kept behind ours: sigaction() and signal() are interposed, and every other fault goes to them.
 *
 * Hidden groups come from RONN_CPUID_HIDE (comma-separated); the only one is "avx512": every
 * AVX-512 subset, AVX10 and AMX (no AVX2-only CPU has them). XCR0 (xgetbv) is left as it is: the
 * libraries check the CPUID bits as well. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))

/* Leaf 7 subleaf 0. EBX: F DQ IFMA PF ER CD BW VL; ECX: VBMI VBMI2 VNNI BITALG VPOPCNTDQ;
 * EDX: 4VNNIW 4FMAPS VP2INTERSECT AMX-BF16 FP16 AMX-TILE AMX-INT8. Subleaf 1. EAX: BF16;
 * EDX: AVX10. */
static const unsigned AVX512_L7_EBX = BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31);
static const unsigned AVX512_L7_ECX = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
static const unsigned AVX512_L7_EDX = BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25);
static const unsigned AVX512_L7S1_EAX = BIT(5);
static const unsigned AVX512_L7S1_EDX = BIT(19);

static int g_hide_avx512;
static int g_active;          /* CPUID faulting is on and our handler installed */
static struct sigaction g_next; /* what the rest of the process asked SIGSEGV to do */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);

static sigaction_fn real_sigaction(void) {
  static sigaction_fn fn;
  if (!fn) fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  return fn;
}

static void emulate_cpuid(greg_t *g) {
  unsigned leaf = (unsigned)g[REG_RAX], sub = (unsigned)g[REG_RCX], a, b, c, d;
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
  __cpuid_count(leaf, sub, a, b, c, d);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
  if (g_hide_avx512 && leaf == 7 && sub == 0) {
    b &= ~AVX512_L7_EBX;
    c &= ~AVX512_L7_ECX;
    d &= ~AVX512_L7_EDX;
  } else if (g_hide_avx512 && leaf == 7 && sub == 1) {
    a &= ~AVX512_L7S1_EAX;
    d &= ~AVX512_L7S1_EDX;
  }
  g[REG_RAX] = a;
  g[REG_RBX] = b;
  g[REG_RCX] = c;
  g[REG_RDX] = d;
  g[REG_RIP] += 2; /* CPUID is 0F A2 */
}

static void on_segv(int sig, siginfo_t *si, void *ctx) {
  greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
  /* A faulted CPUID is a general-protection fault (SI_KERNEL) at a readable instruction; checking
   * si_code first keeps us from reading the instruction of a jump into unmapped memory. */
  if (si->si_code == SI_KERNEL) {
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (ip[0] == 0x0f && ip[1] == 0xa2) {
      emulate_cpuid(g);
      return;
    }
  }
  if (g_next.sa_flags & SA_SIGINFO) {
    g_next.sa_sigaction(sig, si, ctx);
  } else if (g_next.sa_handler != SIG_DFL && g_next.sa_handler != SIG_IGN) {
    g_next.sa_handler(sig);
  } else {
    /* Nobody else handles it: restore the default, and the faulting instruction, run again on
     * return, ends the process as it would have without us. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction()(SIGSEGV, &dfl, NULL);
  }
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig != SIGSEGV || !g_active) return real_sigaction()(sig, act, old);
  if (old) *old = g_next;
  if (act) g_next = *act;
  return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
  if (sig != SIGSEGV || !g_active) {
    static signal_fn real;
    if (!real) real = (signal_fn)dlsym(RTLD_NEXT, "signal");
    return real(sig, handler);
  }
  sighandler_t prev = (g_next.sa_flags & SA_SIGINFO) ? (sighandler_t)g_next.sa_sigaction : g_next.sa_handler;
  memset(&g_next, 0, sizeof g_next);
  g_next.sa_handler = handler;
  g_next.sa_flags = SA_RESTART;
  return prev;
}

/* For the Python side: 1 when CPUID is being filtered, 0 when this library is loaded but could not
 * turn faulting on (the constructor printed why). */
int ronn_cpuid_mask_active(void) { return g_active; }

/* CPUID.7.0:EBX bit 16 as this process sees it: 0 while AVX-512 is hidden. */
int ronn_cpuid_avx512f(void) {
  unsigned a, b, c, d;
  __cpuid_count(7, 0, a, b, c, d);
  return (int)((b >> 16) & 1u);
}

__attribute__((constructor)) static void ronn_cpuid_mask_init(void) {
  const char *hide = getenv("RONN_CPUID_HIDE");
  if (!hide || !*hide) return;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", hide);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (strcmp(tok, "avx512") == 0) {
      g_hide_avx512 = 1;
    } else {
      fprintf(stderr, "cpuid_mask: unknown RONN_CPUID_HIDE group '%s' (known: avx512); hiding nothing\n", tok);
      return;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  if (real_sigaction()(SIGSEGV, &sa, &g_next) != 0) {
    perror("cpuid_mask: sigaction(SIGSEGV)");
    return;
  }
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    perror("cpuid_mask: CPUID faulting (arch_prctl ARCH_SET_CPUID) is not available on this machine");
    real_sigaction()(SIGSEGV, &g_next, NULL);
    return;
  }
  g_active = 1;
}
