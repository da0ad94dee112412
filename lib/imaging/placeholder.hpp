#pragma once
// Tiny stand-ins shown while a gallery image loads.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsp::imaging {

// The BlurHash (blurha.sh) of 8-bit sRGB pixels, `x_components` x `y_components`
// cosine terms (1..9 each).
std::string blurhash_encode(std::span<const std::uint8_t> rgb, int width, int height, int x_components,
                            int y_components);

// The 8-bit sRGB pixels (width x height x 3) a BlurHash stands for; nullopt for
// a malformed hash or a size outside 1..256.
std::optional<std::vector<std::uint8_t>> blurhash_decode(std::string_view hash, int width, int height);

// The hash's average colour (its DC component) as "#rrggbb"; empty when malformed.
std::string blurhash_average_colour(std::string_view hash);

// The hash as a tiny PNG data: URI a page can show at once, with no request:
// `width` pixels wide, as tall as the aspect ratio of `image_width` x
// `image_height` gives; the browser scales it up smoothly, and a hash of 4 x 3
// components holds no detail that more pixels would show. Empty when the hash
// is malformed.
std::string blurhash_data_uri(std::string_view hash, int image_width, int image_height, int width = 16);

std::string base64_encode(std::string_view bytes);

}  // namespace wsp::imaging
