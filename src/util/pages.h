// Page-level memory hints for buffers that are reserved large and written as they fill (the KV
// cache): fault a range in before its first write, in one system call.
#pragma once

#include <cstddef>

namespace uma {

// Makes the pages covering [p, p + bytes) present and writable without changing their contents
// (Linux MADV_POPULATE_WRITE, 5.14+; the range is widened to whole pages, which must belong to
// mappings the process owns). One call over many pages costs a fraction of the page faults the
// first writes would take (on the dev VM ~0.6-0.8 against ~11.6 us a 4 KiB page; the first access
// after it still costs ~6 us there, on the hypervisor's side: docs/performance.md).
// Returns false where the system has no such call (nothing is done then; the pages fault in on
// first write as before).
bool prefault_for_write(void* p, std::size_t bytes);

// The machine's physical memory in bytes (0 where the system does not say): what a buffer
// reserved up front (the KV cache, a probe) is checked against before it is allocated.
double physical_memory_bytes();

}  // namespace uma
