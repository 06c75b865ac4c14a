/* The spin-wait hint of each CPU: lets the sibling hyperthread run and saves power while a
 * thread-pool thread polls for work. */
#ifndef RONN_PLATFORM_CPU_RELAX_H_
#define RONN_PLATFORM_CPU_RELAX_H_

#if defined(__x86_64__) || defined(__i386__)
static inline void ronn_cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
static inline void ronn_cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }
#elif defined(__riscv)
static inline void ronn_cpu_relax(void) { __asm__ __volatile__("nop" ::: "memory"); }
#else
static inline void ronn_cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
#endif

#endif /* RONN_PLATFORM_CPU_RELAX_H_ */
