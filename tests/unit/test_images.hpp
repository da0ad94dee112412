#pragma once
// Small real JPEGs made with libvips for tests that need a photo to decode.

#include <cstddef>
#include <string>

#include <vips/vips8>

#include "imaging/probe.hpp"

namespace wsp::testing {

// A noisy grey JPEG; `mean` makes each one's content (and hash) different.
inline std::string make_jpeg(int width, int height, double mean) {
  wsp::imaging::start_imaging();
  auto image = vips::VImage::gaussnoise(width, height, vips::VImage::option()->set("mean", mean)->set("sigma", 30.0))
                   .cast(VIPS_FORMAT_UCHAR);
  VipsBlob* blob = image.jpegsave_buffer(vips::VImage::option()->set("Q", 85));
  std::size_t length = 0;
  const void* data = vips_area_get_data(VIPS_AREA(blob), &length, nullptr, nullptr, nullptr);
  std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

}  // namespace wsp::testing
