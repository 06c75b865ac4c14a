"""Tools built on the compiler: tuning (`tune`, `baselines`), benchmarking (`bench`, `timing`,
`peer_isa` with `cpuid_mask.c`), the demo, the compile report and the runtime build helper.
Tools import stages; stages never import tools."""
