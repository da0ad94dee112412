#pragma once
// The copy of an original a gallery offers for download: the photographer's
// file with its pixels, colour profile and camera settings untouched, and the
// metadata the render recipe's policy never publishes taken out of it.

#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "util/result.hpp"

namespace wsp::imaging {

// Rewrites `copy`, a copy of the photographer's original in a file of its
// own (a JPEG, PNG, TIFF, WebP or a raw format exiv2 writes), taking out of
// its Exif, XMP and IPTC: every GPS field; the camera's and lens's serial
// numbers and owner name; the maker notes (where cameras keep serials and
// more); the artist and copyright unless render.metadata.keep names them.
// Nothing else changes: the image data stay byte for byte. Fails, with
// exiv2's reason, on a file it cannot read or write; `copy` is then left
// as far as exiv2 got, for the caller to remove.
//
// What it costs in memory: exiv2 0.27 builds the rewritten file in memory
// once, whole, before writing it over `copy` (JpegBase, PngImage and
// WebPImage::writeMetadata write into a MemIo; a TIFF or TIFF-based raw
// whose tags change is written by TiffParser::encode into a MemIo too, after
// mapping `copy`, whose pages are the page cache's, not the heap's). So a
// 100 MB original costs about 100 MB of heap while it is rewritten, once,
// and nothing of it is held before or after; exiv2's public API has no way
// to write these formats through a file instead.
util::Status make_published_original(const std::filesystem::path& copy, const config::RenderRecipe& recipe);

// What decides make_published_original's bytes besides the file, to key copies made before.
std::string original_policy(const config::RenderRecipe& recipe);

}  // namespace wsp::imaging
