// libFuzzer target for the EXIF and ICC parsers. Both see the same bytes: the
// ICC walker starts at offset 128, the EXIF one at the byte-order mark, so one
// input exercises both. The sanitizers are the oracle; no result is checked.

#include "imaging/exif.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  auto facts = wsp::imaging::parse_exif(bytes);
  if (facts.orientation < 1 || facts.orientation > 8) __builtin_trap();
  wsp::imaging::icc_description(bytes);
  return 0;
}
