#pragma once
// XMP as the photographer's tools write it (Lightroom Classic, Photo Mechanic,
// Capture One, darktable), read and written through exiv2: the sidecars
// (IMG_1234.JPG -> IMG_1234.xmp) this tool merges its keywords, rating, the
// best-pick flag and alt text into, and the photographer's selection (stars,
// colour labels, rejects, Photo Mechanic's tag, keywords) read back from a
// sidecar or from the XMP and IPTC embedded in an image. An existing sidecar
// holds develop settings and history: merging changes only the properties
// written here, every other property of the packet is kept.

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
  std::optional<std::string> label;          // xmp:Label
  std::optional<int> rating;                 // xmp:Rating, -1 (rejected) to 5
  std::optional<bool> best_pick;             // photomechanic:Tagged, Photo Mechanic's tag ("True"/"False")
  std::optional<std::string> description;    // dc:description, the x-default alt text

  bool operator==(const XmpFields&) const = default;
};

// What the photographer chose in their culling tool.
struct Selection {
  std::optional<int> rating;        // xmp:Rating: -1 rejected, 0 unrated, 1..5 stars
  std::vector<std::string> labels;  // colour labels by name ("Red", "Green", ...), see read_selection
  std::optional<bool> tagged;       // photomechanic:Tagged
  std::vector<std::string> keywords;  // dc:subject, then lr:hierarchicalSubject's leaves, then IPTC Keywords

  bool empty() const { return !rating && labels.empty() && !tagged && keywords.empty(); }
  bool operator==(const Selection&) const = default;
};

// The sidecar of an image: same folder, same stem, ".xmp" ("IMG_1234.JPG" -> "IMG_1234.xmp").
// `source` is the image, never a sidecar itself.
std::filesystem::path sidecar_path(const std::filesystem::path& source);

// True for a sidecar's name: ".xmp" in any case.
bool is_sidecar(const std::filesystem::path& path);

// `existing` with `fields` merged in, or a new packet (<?xpacket?> wrapper, x:xmpmeta,
// padding) holding `fields` when `existing` is empty. Every other property of `existing`
// is kept; its line breaks (LF or CRLF) are kept. Fields that change no property give
// `existing` back byte for byte, and merging the same fields again gives the same bytes.
// An `existing` text that is not well-formed XMP (or has a DOCTYPE), or fields XML cannot
// carry, give an error naming the reason: the caller leaves that file alone.
util::Result<std::string> merge_xmp(std::string_view existing, const XmpFields& fields);

// What a sidecar says about the properties of XmpFields; absent ones stay unset, and
// `remove_keywords` is always empty. The description is the x-default item (else the
// first). An error when the text is not well-formed XMP or a value does not parse.
util::Result<XmpFields> read_xmp(std::string_view text);

// The photographer's selection in an XMP packet (a sidecar). Colour labels come from
// xmp:Label (Lightroom Classic, Capture One: the label's name), Photo Mechanic's
// photomechanic:ColorClass (1 Red, 2 Orange, 3 Yellow, 4 Green, 5 Blue, 6 Purple,
// 7 and 8 "Class 7", "Class 8") and darktable's darktable:colorlabels (0 Red, 1 Yellow,
// 2 Green, 3 Blue, 4 Purple); each name once.
util::Result<Selection> read_selection(std::string_view xmp_text);

// The selection embedded in an image file's bytes (its XMP packet, and the IPTC
// keywords), nullopt when the image carries none of it. An error when the bytes
// are not an image exiv2 reads.
util::Result<std::optional<Selection>> read_embedded_selection(std::string_view image_bytes);

}  // namespace wsp::tagging
