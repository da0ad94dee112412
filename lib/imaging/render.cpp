#include "imaging/render.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <tbb/task_group.h>
#include <vips/vips8>

#include "imaging/placeholder.hpp"
#include "imaging/probe.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"

namespace wsp::imaging {
using vips::VImage;

namespace {

std::atomic<std::int64_t> g_decodes{0};

// libvips' message on one line, and its error buffer cleared for the next image.
std::string one_line(const vips::VError& error) {
  std::string reason = error.what();
  std::replace(reason.begin(), reason.end(), '\n', ' ');
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  vips_error_clear();
  return reason;
}

// An EXIF block with only what the policy keeps, and Orientation 1 because the
// pixels are already upright.
std::string minimal_exif(const KeptMetadata& kept) {
  struct Entry {
    std::uint16_t tag;
    std::string text;
  };
  std::vector<Entry> entries;
  if (!kept.artist.empty()) entries.push_back({0x013B, kept.artist});
  if (!kept.copyright.empty()) entries.push_back({0x8298, kept.copyright});
  std::string out = std::string("Exif\0\0", 6) + std::string("II*\0\x08\0\0\0", 8);
  auto le16 = [&](std::uint32_t v) { out += {char(v & 0xFF), char((v >> 8) & 0xFF)}; };
  auto le32 = [&](std::uint32_t v) { le16(v & 0xFFFF), le16(v >> 16); };
  // IFD0: Orientation, Artist, Copyright, the Exif IFD pointer; then the Exif IFD
  // with ColorSpace = sRGB, so that readers do not call the colours uncalibrated.
  const std::uint32_t count = 2 + static_cast<std::uint32_t>(entries.size());
  const std::uint32_t exif_ifd_size = 2 + 12 + 4;
  std::uint32_t data_offset = 8 + 2 + count * 12 + 4 + exif_ifd_size;
  le16(count);
  le16(0x0112), le16(3), le32(1), le16(1), le16(0);  // Orientation = 1
  std::string data;
  for (const auto& entry : entries) {
    std::string text = entry.text + '\0';
    le16(entry.tag), le16(2), le32(static_cast<std::uint32_t>(text.size()));
    if (text.size() <= 4) {
      text.resize(4, '\0');
      out += text;
    } else {
      le32(data_offset + static_cast<std::uint32_t>(data.size()));
      data += text;
      if (data.size() % 2) data.push_back('\0');
    }
  }
  le16(0x8769), le16(4), le32(1), le32(8 + 2 + count * 12 + 4);  // Exif IFD pointer
  le32(0);
  le16(1);
  le16(0xA001), le16(3), le32(1), le16(1), le16(0);  // ColorSpace = sRGB
  le32(0);
  return out + data;
}

// Removes every metadata block the source carried: EXIF (GPS, serial numbers,
// owner names), XMP, IPTC, ICC, thumbnails. What is kept is added back explicitly.
VImage without_metadata(const VImage& image) {
  VImage copy = image.copy();
  gchar** fields = vips_image_get_fields(copy.get_image());
  for (gchar** field = fields; *field; ++field) {
    std::string_view name = *field;
    bool metadata = name.starts_with("exif-") || name == "xmp-data" || name == "iptc-data" ||
                    name == "icc-profile-data" || name == "orientation" || name == "photoshop-data" ||
                    name.starts_with("jpeg-thumbnail") || name.starts_with("heif-") || name == "gainmap";
    if (metadata) vips_image_remove(copy.get_image(), *field);
  }
  g_strfreev(fields);
  return copy;
}

// Colour management is done here rather than by thumbnail's export_profile,
// which in libvips 8.14 shifts the colours of untagged (already sRGB) sources.
VImage from_embedded_profile(const VImage& image) {
  if (vips_image_get_typeof(image.get_image(), VIPS_META_ICC_NAME) == 0) return image;
  try {
    return image.icc_transform("srgb", VImage::option()->set("embedded", true)->set("intent", VIPS_INTENT_RELATIVE));
  } catch (const vips::VError&) {
    // A broken profile: show the pixels as they are, as browsers do.
    vips_error_clear();
    return image;
  }
}

VImage to_srgb_rgb(VImage image) {
  if (image.interpretation() != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR)
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  if (image.has_alpha()) image = image.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
  if (image.bands() == 1) image = image.bandjoin({image, image});
  return image;
}

VImage watermarked(const VImage& image, const config::Watermark& mark) {
  const int width = image.width();
  const int margin = static_cast<int>(mark.margin * width);
  VImage overlay;
  if (!mark.text.empty()) {
    const int pixels = std::max(8, static_cast<int>(mark.size * width));
    // libvips reads the text as Pango markup; the photographer's text is plain.
    std::unique_ptr<gchar, void (*)(gpointer)> plain(g_markup_escape_text(mark.text.c_str(), -1), g_free);
    VImage mask = VImage::text(plain.get(), VImage::option()
                                                       ->set("font", fmt::format("{} {}", mark.font, pixels).c_str())
                                                       ->set("dpi", 72));
    VImage alpha = (mask * (mark.opacity)).cast(VIPS_FORMAT_UCHAR);
    VImage white = (mask.new_from_image(std::vector<double>{255, 255, 255})).copy(
        VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    overlay = white.bandjoin(alpha);
  } else {
    VImage source = VImage::new_from_file(mark.image.c_str());
    VImage logo = to_srgb_rgb(source);
    VImage alpha = source.has_alpha() ? source[source.bands() - 1] : logo.new_from_image(255.0)[0];
    overlay = logo.bandjoin(alpha * mark.opacity);
    double scale = (mark.size * 4 * width) / overlay.width();  // a logo is about four text heights wide
    overlay = overlay.resize(scale).cast(VIPS_FORMAT_UCHAR);
  }
  const int x_room = std::max(0, width - overlay.width() - margin);
  const int y_room = std::max(0, image.height() - overlay.height() - margin);
  int x = margin, y = margin;
  if (mark.position.ends_with("right")) x = x_room;
  if (mark.position.starts_with("bottom")) y = y_room;
  if (mark.position == "center") x = x_room / 2 + margin / 2, y = y_room / 2 + margin / 2;
  return image.composite2(overlay, VIPS_BLEND_MODE_OVER, VImage::option()->set("x", x)->set("y", y))
      .extract_band(0, VImage::option()->set("n", 3))
      .cast(VIPS_FORMAT_UCHAR);
}

// libvips 8.14 gets a WebP's EXIF chunk wrong both ways: told to strip, it
// still writes a block of its own (resolution, an "uncalibrated" colour
// space); given EXIF, it writes it with JPEG's "Exif\0\0" header in front,
// where a WebP chunk holds the TIFF structure itself and readers call the
// header improper. Without `keep` the chunk goes (and its VP8X flag);
// with it, the header does.
void fix_webp_exif(std::string& webp, bool keep) {
  if (webp.size() < 30 || webp.compare(0, 4, "RIFF") != 0 || webp.compare(12, 4, "VP8X") != 0) return;
  auto put32 = [&](std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) webp[at + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  };
  std::size_t at = 12;
  while (at + 8 <= webp.size()) {
    std::uint32_t size = std::uint8_t(webp[at + 4]) | (std::uint8_t(webp[at + 5]) << 8) |
                         (std::uint8_t(webp[at + 6]) << 16) | (std::uint32_t(std::uint8_t(webp[at + 7])) << 24);
    std::size_t chunk = 8 + size + (size & 1);
    if (webp.compare(at, 4, "EXIF") == 0) {
      constexpr std::string_view k_jpeg_header("Exif\0\0", 6);
      if (!keep) {
        webp.erase(at, std::min(chunk, webp.size() - at));
        webp[20] = static_cast<char>(webp[20] & ~0x08);  // VP8X flags: no EXIF
      } else if (size >= k_jpeg_header.size() && webp.compare(at + 8, k_jpeg_header.size(), k_jpeg_header) == 0) {
        // Six bytes less keeps the size's parity, so the padding stays as it is.
        webp.erase(at + 8, k_jpeg_header.size());
        put32(at + 4, size - static_cast<std::uint32_t>(k_jpeg_header.size()));
      }
      put32(4, static_cast<std::uint32_t>(webp.size() - 8));
      return;
    }
    at += chunk;
  }
}

// A fast, mild sharpen: one 3x3 integer convolution on the 8-bit sRGB pixels.
// vips_sharpen works in LabS, and the round trip through Lab cost more than
// every JPEG encode of a photo together; at this strength the difference does
// not show. The kernel boosts detail as sharp's parameterless sharpen does
// (x1.25 at half the sampling rate, x1.5 at the highest horizontal or
// vertical frequency), but its scale is a power of two, which lets libvips
// run it vectorised: 2.5 times faster.
VImage mildly_sharpened(const VImage& image) {
  VImage kernel = VImage::new_matrixv(3, 3, -1.0, -2.0, -1.0, -2.0, 44.0, -2.0, -1.0, -2.0, -1.0);
  kernel.set("scale", 32.0);
  return image.conv(kernel, VImage::option()->set("precision", VIPS_PRECISION_INTEGER)).cast(VIPS_FORMAT_UCHAR);
}

// What the policy keeps goes into JPEGs as our own APP1 segment after a
// stripped encode; WebP and AVIF get it through libvips, which otherwise writes
// nothing but what is set on the image (all source metadata is gone).
std::string encode(VImage image, const std::string& format, const config::RenderRecipe& recipe,
                   const std::string& exif) {
  const bool strip = format == "jpeg" || exif.empty();
  if (!strip) {
    image = image.copy();
    vips_image_set_blob_copy(image.get_image(), VIPS_META_EXIF_NAME, exif.data(), exif.size());
  }
  void* buffer = nullptr;
  size_t length = 0;
  if (format == "jpeg") {
    image.write_to_buffer(".jpg", &buffer, &length,
                          VImage::option()
                              ->set("Q", recipe.jpeg.quality)
                              ->set("optimize_coding", true)
                              ->set("interlace", true)
                              ->set("strip", strip));
  } else if (format == "webp") {
    image.write_to_buffer(".webp", &buffer, &length,
                          VImage::option()
                              ->set("Q", recipe.webp.quality)
                              ->set("effort", recipe.webp.effort)
                              ->set("strip", strip));
  } else {
    // AVIF is slow and memory hungry (libaom threads of its own): one encode at
    // a time in the whole process, whatever else runs beside it.
    static std::mutex avif_slot;
    std::lock_guard one_at_a_time(avif_slot);
    image.write_to_buffer(".avif", &buffer, &length,
                          VImage::option()
                              ->set("Q", recipe.avif.quality)
                              ->set("effort", recipe.avif.effort)
                              ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
                              ->set("strip", strip));
  }
  std::string bytes(static_cast<const char*>(buffer), length);
  g_free(buffer);
  if (format == "jpeg" && !exif.empty() && bytes.size() > 2 && exif.size() + 2 <= 0xFFFF) {
    const auto segment = static_cast<std::uint32_t>(exif.size() + 2);
    std::string app1 = {char(0xFF), char(0xE1), char(segment >> 8), char(segment & 0xFF)};
    bytes.insert(2, app1 + exif);  // right after SOI
  }
  if (format == "webp") fix_webp_exif(bytes, !exif.empty());
  return bytes;
}

std::string format_name(const std::string& format) {
  return format == "jpeg" ? "JPEG" : format == "webp" ? "WebP" : "AVIF";
}

std::vector<std::string> enabled_formats(const config::RenderRecipe& recipe) {
  std::vector<std::string> formats;
  if (recipe.avif.enabled) formats.push_back("avif");
  if (recipe.webp.enabled) formats.push_back("webp");
  if (recipe.jpeg.enabled) formats.push_back("jpeg");
  return formats;
}

// `source` decoded no wider than `width` (never enlarged), upright by EXIF.
// A JPEG is loaded at the smallest of its DCT scales (1/2, 1/4, 1/8) still at
// least that wide, then resized: libvips' thumbnail does the same, but opens
// the file twice over and costs a 24 MP photo 0.1 s more, a third of the
// decode that a lone photo's render waits for. Other formats go through
// thumbnail, which knows each loader's own way to shrink.
//
// A CMYK source is not given to thumbnail either: libvips 8.14's thumbnail
// imports CMYK with its generic profile, whatever profile the file embeds
// (the JPEG path never met this); it is loaded whole and resized in CMYK, and
// from_embedded_profile then converts it with its own profile.
VImage decoded_to_width(std::span<const std::uint8_t> source, int width) {
  const char* loader = vips_foreign_find_load_buffer(source.data(), source.size());
  const bool jpeg = loader && std::string_view(loader) == "VipsForeignLoadJpegBuffer";
  const bool cmyk = !jpeg && loader &&
                    VImage::new_from_buffer(source.data(), source.size(), "").interpretation() ==
                        VIPS_INTERPRETATION_CMYK;
  if (jpeg || cmyk) {
    auto load = [&](int shrink) {
      auto options = VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
      if (jpeg) options->set("shrink", shrink);
      // The image borrows the caller's bytes: no copy of a 10 MB source.
      return VImage::new_from_buffer(source.data(), source.size(), "", options);
    };
    VImage header = load(1);  // the header only: pixels are decoded on demand
    const int upright_width = vips_image_get_orientation_swap(header.get_image()) ? header.height() : header.width();
    int shrink = 1;
    for (int factor : {8, 4, 2})
      if (jpeg && (upright_width + factor - 1) / factor >= width) {
        shrink = factor;
        break;
      }
    VImage image = shrink == 1 ? header : load(shrink);
    const int loaded_width = vips_image_get_orientation_swap(image.get_image()) ? image.height() : image.width();
    if (loaded_width > width)
      image = image.resize(double(width) / loaded_width, VImage::option()->set("kernel", VIPS_KERNEL_LANCZOS3));
    // Turning upright reads the pixels out of order, which the decode streamed
    // in order cannot serve: it turns the resized image, held in memory.
    if (vips_image_get_orientation(image.get_image()) != 1) image = image.copy_memory();
    return image.autorot();
  }
  // The blob borrows the caller's bytes too.
  std::unique_ptr<VipsBlob, void (*)(VipsBlob*)> blob(vips_blob_new(nullptr, source.data(), source.size()),
                                                      [](VipsBlob* b) { vips_area_unref(VIPS_AREA(b)); });
  return VImage::thumbnail_buffer(blob.get(), width,
                                  VImage::option()
                                      ->set("height", 10'000'000)
                                      ->set("size", VIPS_SIZE_DOWN)
                                      // thumbnail_buffer of libvips 8.14 ignores its own
                                      // fail_on: the loader is told directly.
                                      ->set("option_string", "fail_on=truncated")
                                      ->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
}

// The analysis image (for tagging) and the placeholder, from `source`: a
// variant as decoded, before sharpening and watermark.
void make_analysis(const VImage& source, const config::RenderRecipe& recipe, Rendition& rendition) {
  VImage analysis =
      source.resize(std::min(1.0, double(recipe.analysis_size) / std::max(source.width(), source.height())));
  analysis = without_metadata(analysis);
  rendition.analysis_width = analysis.width();
  rendition.analysis_height = analysis.height();
  void* buffer = nullptr;
  size_t length = 0;
  analysis.write_to_buffer(".jpg", &buffer, &length, VImage::option()->set("Q", 90)->set("strip", true));
  rendition.analysis_jpeg.assign(static_cast<const char*>(buffer), length);
  g_free(buffer);

  if (recipe.placeholder == "blurhash") {
    VImage tiny = analysis.resize(32.0 / analysis.width()).copy_memory();
    size_t size = 0;
    auto* pixels = static_cast<std::uint8_t*>(tiny.write_to_memory(&size));
    rendition.placeholder = blurhash_encode({pixels, size}, tiny.width(), tiny.height(), 4, 3);
    g_free(pixels);
  } else if (recipe.placeholder == "lqip") {
    VImage tiny = analysis.resize(20.0 / analysis.width());
    tiny.write_to_buffer(".jpg", &buffer, &length, VImage::option()->set("Q", 40)->set("strip", true));
    rendition.placeholder = "data:image/jpeg;base64," + base64_encode({static_cast<const char*>(buffer), length});
    g_free(buffer);
  }
}

}  // namespace

KeptMetadata kept_metadata(const CameraFacts& facts, const config::RenderRecipe& recipe) {
  KeptMetadata kept;
  auto keeps = [&](const char* what) {
    return std::find(recipe.keep_metadata.begin(), recipe.keep_metadata.end(), what) != recipe.keep_metadata.end();
  };
  if (keeps("artist")) kept.artist = facts.artist;
  if (keeps("copyright")) kept.copyright = facts.copyright;
  return kept;
}

std::string recipe_fingerprint(const config::RenderRecipe& recipe) {
  // Only what changes output bytes: order does not, nor the settings of a disabled format.
  auto keep = recipe.keep_metadata;
  std::sort(keep.begin(), keep.end());
  auto widths = recipe.widths;
  std::sort(widths.begin(), widths.end());
  widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
  auto format = [](const config::EncoderSettings& encoder, bool with_effort) {
    if (!encoder.enabled) return std::string("off");
    return with_effort ? fmt::format("{}/{}", encoder.quality, encoder.effort) : std::to_string(encoder.quality);
  };
  std::string text = fmt::format("v3 widths={} jpeg={} webp={} avif={} sharpen={} keep={} placeholder={} analysis={}",
                                 fmt::join(widths, ","), format(recipe.jpeg, false), format(recipe.webp, true),
                                 format(recipe.avif, true), recipe.sharpen, fmt::join(keep, ","), recipe.placeholder,
                                 recipe.analysis_size);
  if (const auto& mark = recipe.watermark) {
    // A new logo under the same name re-renders too.
    std::string logo;
    if (!mark->image.empty())
      if (auto bytes = util::read_text_file(mark->image); bytes.ok()) logo = util::sha256_hex(*bytes);
    // The logo by content, not by path: moving the project re-renders nothing.
    text += fmt::format(" watermark={}|{}|{}|{}|{}|{}|{}|{}", mark->text, logo, mark->font, mark->size, mark->position,
                        mark->opacity, mark->margin, mark->min_width);
  }
  return text;
}

util::Result<RgbPixels> decode_rgb8(std::span<const std::uint8_t> bytes) {
  start_imaging();
  try {
    VImage image = VImage::new_from_buffer(bytes.data(), bytes.size(), "",
                                           VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    if (image.has_alpha()) image = image.flatten(VImage::option()->set("background", std::vector<double>{255.0}));
    image = image.colourspace(VIPS_INTERPRETATION_sRGB).cast(VIPS_FORMAT_UCHAR);
    if (image.bands() != 3) return util::Error{fmt::format("expected 3 colour bands, got {}", image.bands())};
    RgbPixels pixels;
    pixels.width = image.width();
    pixels.height = image.height();
    std::size_t length = 0;
    void* memory = image.write_to_memory(&length);
    pixels.rgb.assign(static_cast<const std::uint8_t*>(memory), static_cast<const std::uint8_t*>(memory) + length);
    g_free(memory);
    return pixels;
  } catch (const vips::VError& e) {
    return util::Error{fmt::format("cannot decode: {}", one_line(e))};
  }
}

std::int64_t decode_count() { return g_decodes.load(); }

util::Result<Rendition> render_photo(std::span<const std::uint8_t> source, const config::RenderRecipe& recipe,
                                     const KeptMetadata& kept) {
  start_imaging();
  Rendition rendition;
  try {
    const int widest = *std::max_element(recipe.widths.begin(), recipe.widths.end());
    // One decode: shrink-on-load to the widest variant (never up), upright by
    // EXIF, converted from the embedded profile to sRGB; truncated data fails
    // here instead of becoming grey blocks.
    VImage base = without_metadata(to_srgb_rgb(from_embedded_profile(decoded_to_width(source, widest)))).copy_memory();
    ++g_decodes;
    rendition.width = base.width();
    rendition.height = base.height();
    // Without anything to keep, no EXIF at all: the pixels are upright already.
    const std::string exif = kept.artist.empty() && kept.copyright.empty() ? std::string() : minimal_exif(kept);
    const auto formats = enabled_formats(recipe);

    // Widest first, each variant resized from the previous one: the cheapest
    // source for every step that is still larger than its target.
    std::vector<int> widths;
    for (int width : recipe.widths)
      if (width < base.width()) widths.push_back(width);
    widths.push_back(base.width());  // the largest variant is the decoded image itself, never upscaled
    std::sort(widths.rbegin(), widths.rend());
    widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
    // The encodes write into their slots while more are added: no reallocation.
    rendition.variants.reserve(widths.size() * formats.size());
    std::vector<VImage> outputs(widths.size());
    // Every encode is its own task, started as soon as its variant exists,
    // widest first: the widest WebP, the longest single encode, begins while
    // the smaller variants and the analysis image are still being made. While
    // two photos render side by side each keeps one core busy, and a photo
    // alone gets both.
    tbb::task_group encodes;
    try {
      VImage previous = base;
      VImage analysis_source = base;
      for (std::size_t w = 0; w < widths.size(); ++w) {
        const int width = widths[w];
        // Mitchell rather than Lanczos for the cascade steps: no ringing to
        // sharpen away, fewer bytes at the same quality, and a little less CPU.
        VImage variant = width == previous.width()
                             ? previous
                             : previous.resize(double(width) / previous.width(),
                                               VImage::option()->set("kernel", VIPS_KERNEL_MITCHELL))
                                   .copy_memory();
        previous = variant;
        // The analysis image comes from the smallest variant still at least as
        // large, as decoded: tagging must not see sharpening halos or a watermark.
        if (std::max(variant.width(), variant.height()) >= recipe.analysis_size) analysis_source = variant;
        VImage output = variant;
        const bool marked = recipe.watermark && width >= recipe.watermark->min_width;
        if (recipe.sharpen) output = mildly_sharpened(output);
        if (marked) output = watermarked(output, *recipe.watermark);
        // Sharpened or marked pixels are computed once, not once per format.
        if ((recipe.sharpen || marked) && formats.size() > 1) output = output.copy_memory();
        outputs[w] = output.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
        for (const auto& format : formats) {
          // A format that cannot hold the variant's longest side leaves it out,
          // with a note; the other formats still get it.
          const int longest = std::max(outputs[w].width(), outputs[w].height());
          if (longest > config::longest_side_of(format)) {
            rendition.notes.push_back(fmt::format("no {} variant at {}x{}: {} holds at most {} px a side",
                                                  format_name(format), outputs[w].width(), outputs[w].height(),
                                                  format_name(format), config::longest_side_of(format)));
            continue;
          }
          auto& slot = rendition.variants.emplace_back(
              EncodedVariant{outputs[w].width(), outputs[w].height(), format, {}});
          encodes.run([&slot, &image = outputs[w], &recipe, &exif] { slot.bytes = encode(image, slot.format, recipe, exif); });
        }
      }
      make_analysis(analysis_source, recipe, rendition);
    } catch (...) {
      // Nothing may still write into the rendition once this returns.
      encodes.cancel();
      encodes.wait();
      throw;
    }
    encodes.wait();  // an encode's failure is thrown here
    if (rendition.variants.empty())
      return util::Error{fmt::format("{}x{} is too large for every enabled format: {}", rendition.width,
                                     rendition.height, fmt::join(rendition.notes, "; "))};
  } catch (const vips::VError& error) {
    return util::Error{fmt::format("cannot decode or render: {}", one_line(error))};
  }
  return rendition;
}

}  // namespace wsp::imaging
