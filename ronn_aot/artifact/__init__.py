"""The artifact's byte format (plan, footer, device modules), its ELF helpers and `inspect`.
Pure Python with no TVM import, so the runtime's tests and `ronn-aot inspect` stay light."""
