#pragma once
// What the render stage made: per image, the variants on disk and the
// analysis image, committed only after the files are in place.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsp::catalog {

// One encoded file of a rendered image, relative to the state folder.
struct VariantRecord {
  int width = 0;
  int height = 0;
  std::string format;  // jpeg | webp | avif
  std::int64_t bytes = 0;
  std::string sha256;
  std::string path;    // "renders/first-kiss-960.3f9a1c2b7d4e.webp"
};

// What the render stage made of one image, committed after its files are in place.
struct RenderRecord {
  std::int64_t image_id = 0;
  std::string source_path;  // the image's catalog path, filled when read back
  std::string fingerprint;
  int width = 0;            // upright size of the largest variant
  int height = 0;
  std::string analysis_path;
  std::string placeholder;
  std::vector<VariantRecord> variants;
};

struct RenderCatalog {
  virtual ~RenderCatalog() = default;

  // Replaces the image's render; returns the files (variants, analysis image) no
  // render refers to any more, which the caller may delete.
  virtual std::vector<std::string> replace_render(const RenderRecord& render) = 0;
  virtual std::vector<RenderRecord> renders() = 0;  // of active images, by path
  // Every file under the state folder some render refers to (variants, analysis images).
  virtual std::vector<std::string> referenced_files() = 0;
  // The analysis image of the image's current render, relative to the state folder.
  virtual std::optional<std::string> analysis_path(std::int64_t image_id) = 0;
};

}  // namespace wsp::catalog
