#include "imaging/probe.hpp"

#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <vips/vips.h>

namespace wsp::imaging {

void start_imaging() {
  static std::once_flag started;
  std::call_once(started, [] {
    if (VIPS_INIT("wsportfolio") != 0) throw std::runtime_error("cannot start libvips");
    // Loaders libvips marks as unsafe for untrusted input (ImageMagick, PDF, ...)
    // are never offered a file from a shoot folder.
    vips_block_untrusted_set(TRUE);
    // Problems with a file are reported once, as its rejection reason; libvips'
    // own warnings would repeat them on stderr, outside -q and --json.
    g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
                      [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {}, nullptr);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
  });
}

namespace {

std::string format_of(const char* loader_class) {
  // "VipsForeignLoadJpegBuffer" -> nickname "jpegload_buffer" -> "jpeg"
  const char* nickname = vips_nickname_find(g_type_from_name(loader_class));
  std::string name = nickname ? nickname : loader_class;
  if (auto at = name.find("load"); at != std::string::npos) name.resize(at);
  return name;
}

struct ImageRef {
  VipsImage* image = nullptr;
  ~ImageRef() {
    if (image) g_object_unref(image);
  }
};

std::span<const std::uint8_t> blob_of(VipsImage* image, const char* name) {
  const void* data = nullptr;
  size_t length = 0;
  if (vips_image_get_typeof(image, name) == 0 || vips_image_get_blob(image, name, &data, &length) != 0) return {};
  return {static_cast<const std::uint8_t*>(data), length};
}

// libvips' error text as one line (": reason"), empty when it said nothing.
std::string take_vips_error() {
  std::string text = vips_error_buffer();
  vips_error_clear();
  std::string line;
  for (char c : text) {
    if (c == '\n') {
      if (!line.empty() && line.back() != ' ') line += "; ";
    } else {
      line.push_back(c);
    }
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == ';')) line.pop_back();
  return line.empty() ? "" : ": " + line;
}

bool jpeg_complete(std::span<const std::uint8_t> bytes) {
  // Walk the marker segments, then the entropy-coded data, until EOI. Inside
  // entropy-coded data 0xFF is followed only by 0x00 or a restart marker, so the
  // first other marker after SOS ends the scan.
  std::size_t at = 2;
  const std::size_t size = bytes.size();
  while (at + 2 <= size) {
    if (bytes[at] != 0xFF) return false;
    std::uint8_t marker = bytes[at + 1];
    if (marker == 0xFF) {
      ++at;
      continue;
    }
    if (marker == 0xD9) return true;
    if (marker >= 0xD0 && marker <= 0xD7) {
      at += 2;
      continue;
    }
    if (at + 4 > size) return false;
    std::size_t length = (std::size_t(bytes[at + 2]) << 8) | bytes[at + 3];
    at += 2 + length;
    if (marker != 0xDA) continue;
    while (at < size) {
      auto* found = static_cast<const std::uint8_t*>(std::memchr(bytes.data() + at, 0xFF, size - at));
      if (!found) return false;
      at = static_cast<std::size_t>(found - bytes.data());
      if (at + 1 >= size) return false;
      std::uint8_t next = bytes[at + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
        at += next == 0xFF ? 1 : 2;
        continue;
      }
      break;  // a real marker: back to segment walking (progressive JPEGs have several scans)
    }
  }
  return false;
}

bool png_complete(std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t k_iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  if (bytes.size() < 8 + sizeof(k_iend)) return false;
  // Walk the chunk list; the IEND chunk must be reached inside the file.
  std::size_t at = 8;
  while (at + 12 <= bytes.size()) {
    std::size_t length = (std::size_t(bytes[at]) << 24) | (std::size_t(bytes[at + 1]) << 16) |
                         (std::size_t(bytes[at + 2]) << 8) | bytes[at + 3];
    if (std::memcmp(bytes.data() + at + 4, "IEND", 4) == 0) return true;
    if (length > bytes.size()) return false;
    at += 12 + length;
  }
  return false;
}

}  // namespace

bool looks_complete(std::span<const std::uint8_t> bytes, const std::string& format) {
  if (format == "jpeg") return bytes.size() >= 4 && jpeg_complete(bytes);
  if (format == "png") return png_complete(bytes);
  return true;
}

util::Result<PhotoHeader> probe_header(std::span<const std::uint8_t> bytes, std::int64_t max_pixels) {
  start_imaging();
  if (bytes.empty()) return util::Error{"empty file (0 bytes)"};
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  if (!loader) {
    vips_error_clear();
    return util::Error{"not an image: the content is in no supported image format"};
  }
  PhotoHeader header;
  header.format = format_of(loader);
  ImageRef ref;
  // Opening from a buffer reads only the header; pixels are decoded on demand,
  // which never happens here.
  ref.image = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  if (!ref.image) {
    return util::Error{fmt::format("unreadable {} header{}", header.format, take_vips_error())};
  }
  header.width = vips_image_get_width(ref.image);
  header.height = vips_image_get_height(ref.image);
  const auto pixels = std::int64_t(header.width) * header.height;
  if (pixels > max_pixels)
    return util::Error{fmt::format("{}x{} is {:.3g} megapixels, over the limit of {:.3g} (limits.max_pixels); not decoded",
                                   header.width, header.height, pixels / 1e6, max_pixels / 1e6)};
  if (!looks_complete(bytes, header.format))
    return util::Error{fmt::format("truncated {}: the file ends before the end of the image data", header.format)};
  auto exif = blob_of(ref.image, VIPS_META_EXIF_NAME);
  // A TIFF is itself the structure an EXIF block is: its first IFD holds Make,
  // Model and the pointer to the Exif IFD, and libvips' TIFF loader exposes
  // none of it as "exif-data".
  if (exif.empty() && header.format == "tiff") exif = bytes;
  header.camera = parse_exif(exif);
  header.icc_description = icc_description(blob_of(ref.image, VIPS_META_ICC_NAME));
  return header;
}

}  // namespace wsp::imaging
