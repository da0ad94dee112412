#pragma once
// exiv2's XMP toolkit keeps one process-wide namespace registry, which parsing
// a packet with an unknown namespace writes to, and its initialisation is not
// thread-safe either: every use of exiv2 in the project holds this lock, so
// that a sidecar merged on one thread and an original's metadata rewritten on
// another never meet inside it.

#include <mutex>

namespace wsp::imaging {

// Holds exiv2 for the caller, initialising its XMP toolkit the first time.
std::unique_lock<std::mutex> hold_exiv2();

}  // namespace wsp::imaging
