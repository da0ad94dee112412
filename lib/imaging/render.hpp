#pragma once
// Rendering one photo into its web variants. The source is decoded once, shrunk
// on load to the largest size any variant needs, turned upright and into sRGB;
// every variant, the analysis image and the placeholder are derived from that
// one decoded image, largest to smallest.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "imaging/exif.hpp"
#include "util/result.hpp"

namespace wsp::imaging {

struct EncodedVariant {
  int width = 0;
  int height = 0;
  std::string format;  // jpeg | webp | avif
  std::string bytes;
};

struct Rendition {
  int width = 0;   // upright size of the decoded image the variants come from
  int height = 0;
  std::vector<EncodedVariant> variants;  // widest first
  std::string analysis_jpeg;             // small sRGB image for tagging (render.analysis_size)
  int analysis_width = 0;
  int analysis_height = 0;
  std::string placeholder;               // blurhash string or data: URI, empty for none
  std::vector<std::string> notes;        // what was left out and why ("no WebP at 100x30000: ...")
};

// What the metadata policy keeps: only these reach the published files.
struct KeptMetadata {
  std::string artist;
  std::string copyright;
};
KeptMetadata kept_metadata(const CameraFacts& facts, const config::RenderRecipe& recipe);

// A stable text of every render setting that changes the output bytes.
std::string recipe_fingerprint(const config::RenderRecipe& recipe);

// Decodes `source` (rejecting truncated or corrupt data) and renders every
// variant of `recipe`. Errors name the reason; the caller names the file.
util::Result<Rendition> render_photo(std::span<const std::uint8_t> source, const config::RenderRecipe& recipe,
                                     const KeptMetadata& kept);

// 8-bit sRGB pixels, interleaved RGB, row-major, no padding.
struct RgbPixels {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
};

// Decodes a small image the tool wrote itself (the analysis image) into RGB
// pixels; alpha is flattened on white, grey becomes RGB. Not counted as a
// source decode: it reads the few kilobytes render produced, never a source.
util::Result<RgbPixels> decode_rgb8(std::span<const std::uint8_t> bytes);

// The number of full decodes this process has made, for tests and the benchmark.
std::int64_t decode_count();

}  // namespace wsp::imaging
