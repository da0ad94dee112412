// libFuzzer target for the XMP sidecar reader and merger: any bytes a sidecar
// on disk may hold. Besides the sanitizers, two properties are checked: a merge
// that succeeds reads back what was written, and merging the same fields again
// changes nothing.

#include "tagging/xmp.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)wsp::tagging::read_xmp(text);
  wsp::tagging::XmpFields fields;
  fields.keywords = {"ceremony", "Anna & Ben"};
  fields.remove_keywords = {"vertical"};
  fields.label = "ceremony";
  fields.rating = 4;
  fields.best_pick = true;
  fields.description = "Ceremony photo, <horizontal>";
  auto merged = wsp::tagging::merge_xmp(text, fields);
  if (!merged.ok()) return 0;
  auto read = wsp::tagging::read_xmp(*merged);
  if (!read.ok() || read->label != fields.label || read->rating != fields.rating) __builtin_trap();
  auto again = wsp::tagging::merge_xmp(*merged, fields);
  if (!again.ok() || *again != *merged) __builtin_trap();
  return 0;
}
