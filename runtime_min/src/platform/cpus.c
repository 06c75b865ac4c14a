/* Number of CPUs this process may run on. Linux containers often restrict the affinity mask to
 * fewer CPUs than are online; using the mask avoids starting threads that would only compete. */
#if defined(__linux__)
#define _GNU_SOURCE
#include <sched.h>
#endif
#include <sys/resource.h>
#include <unistd.h>

#include "../internal.h"

int32_t ronn_platform_num_cpus(void) {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
#endif
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? (int32_t)online : 1;
}

/* Involuntary context switches of this process so far: how often the scheduler took a CPU from
 * one of its threads to give it to someone else. 0 where getrusage does not count them. */
uint64_t ronn_platform_preemptions(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0 || usage.ru_nivcsw < 0) return 0;
  return (uint64_t)usage.ru_nivcsw;
}
