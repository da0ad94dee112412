#pragma once
// The copy of an original a gallery offers for download: the photographer's
// file with its pixels, colour profile and camera settings untouched, and the
// metadata the render recipe's policy never publishes taken out of it.

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "util/result.hpp"

namespace wsp::imaging {

// `bytes` (a JPEG, PNG, TIFF, WebP or a raw format exiv2 writes) with, from
// its Exif, XMP and IPTC: every GPS field; the camera's and lens's serial
// numbers and owner name; the maker notes (where cameras keep serials and
// more); the artist and copyright unless render.metadata.keep names them.
// Nothing else changes: the image data are copied byte for byte. Fails, with
// exiv2's reason, on a file it cannot read or write.
util::Result<std::string> published_original(std::string_view bytes, const config::RenderRecipe& recipe);

// What decides published_original's bytes besides the file, to key copies made before.
std::string original_policy(const config::RenderRecipe& recipe);

}  // namespace wsp::imaging
