#pragma once
// Tiny stand-ins shown while a gallery image loads.

#include <cstdint>
#include <span>
#include <string>

namespace wsp::imaging {

// The BlurHash (blurha.sh) of 8-bit sRGB pixels, `x_components` x `y_components`
// cosine terms (1..9 each).
std::string blurhash_encode(std::span<const std::uint8_t> rgb, int width, int height, int x_components,
                            int y_components);

std::string base64_encode(std::string_view bytes);

}  // namespace wsp::imaging
