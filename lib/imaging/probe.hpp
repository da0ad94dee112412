#pragma once
// Reading what an image is without decoding its pixels: format, dimensions,
// camera facts and colour profile, from the bytes already in memory for hashing.

#include <cstdint>
#include <span>
#include <string>

#include "imaging/exif.hpp"
#include "util/result.hpp"

namespace wsp::imaging {

struct PhotoHeader {
  std::string format;  // jpeg, png, tiff, webp, heif, ...
  int width = 0;       // as stored, before EXIF orientation
  int height = 0;
  std::string icc_description;  // empty: no embedded profile (taken as sRGB)
  CameraFacts camera;
};

// Starts libvips once per process: untrusted loaders blocked, the operation cache
// kept small (every image is seen once, caching only costs memory). Thread-safe.
// The functions here that use libvips call it themselves, and nothing else
// does: starting libvips loads its modules (tens of milliseconds), which a run
// that finds nothing to decode should not pay.
void start_imaging();

// Header-only probe. Rejections carry a reason a photographer can act on:
// not an image, truncated, over `max_pixels`. Never decodes the pixels.
util::Result<PhotoHeader> probe_header(std::span<const std::uint8_t> bytes, std::int64_t max_pixels);

// True when the bytes hold a complete JPEG or PNG stream (ends with EOI / IEND);
// other formats are checked when decoded. Costs one pass of memchr over the bytes.
bool looks_complete(std::span<const std::uint8_t> bytes, const std::string& format);

}  // namespace wsp::imaging
