#pragma once
// XMP sidecars (IMG_1234.JPG -> IMG_1234.xmp) that Lightroom Classic and Photo
// Mechanic read: keywords, the scene label, a star rating, the best-pick flag and
// alt text. An existing sidecar holds the photographer's develop settings and
// history, so it is edited in place: only the bytes of the properties written
// here change, everything else (other namespaces, comments, padding) stays as it was.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace wsp::tagging {

// The properties this tool writes. An unset optional leaves that property as it is.
struct XmpFields {
  std::vector<std::string> keywords;         // dc:subject: added when missing; existing order kept, new ones appended
  std::vector<std::string> remove_keywords;  // dc:subject: removed when present (exact match); wins over `keywords`
  std::optional<std::string> label;          // xmp:Label, the scene
  std::optional<int> rating;                 // xmp:Rating, -1 (rejected) to 5
  std::optional<bool> best_pick;             // photomechanic:Tagged, Photo Mechanic's tag ("True"/"False")
  std::optional<std::string> description;    // dc:description, the x-default alt text

  bool operator==(const XmpFields&) const = default;
};

// The sidecar of an image: same folder, same stem, ".xmp" ("IMG_1234.JPG" -> "IMG_1234.xmp").
// `source` is the image, never a sidecar itself.
std::filesystem::path sidecar_path(const std::filesystem::path& source);

// `existing` with `fields` merged in, or a new packet (<?xpacket?> wrapper, x:xmpmeta,
// padding) holding `fields` when `existing` is empty. Properties are updated in the form
// they already have (attribute or element, whatever prefix is bound to their namespace);
// new simple properties become attributes of an rdf:Description, new arrays elements.
// Everything else is kept byte for byte, and merging the same fields again gives the same
// bytes. An `existing` text that is not well-formed XMP (or has a DOCTYPE), or fields XML
// cannot carry, give an error naming the reason: the caller leaves that file alone.
util::Result<std::string> merge_xmp(std::string_view existing, const XmpFields& fields);

// What a sidecar says about the properties of XmpFields; absent ones stay unset, and
// `remove_keywords` is always empty. The description is the x-default item (else the
// first). An error when the text is not well-formed XMP or a value does not parse.
util::Result<XmpFields> read_xmp(std::string_view text);

}  // namespace wsp::tagging
