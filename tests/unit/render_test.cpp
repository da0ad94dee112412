// The render of one photo, tested on small images made here with libvips:
// upright by EXIF, sRGB from an embedded profile, the metadata policy, widths
// that are never upscaled, the watermark, truncated input, and the placeholder.

#include "require_tool.hpp"
#include "imaging/render.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <string>
#include <vector>
#include <vips/vips8>

#include "config/config.hpp"
#include "imaging/exif.hpp"
#include "imaging/placeholder.hpp"
#include "imaging/probe.hpp"

namespace {

namespace fs = std::filesystem;
using vips::VImage;
using wsp::config::RenderRecipe;
using wsp::imaging::EncodedVariant;
using wsp::imaging::KeptMetadata;
using wsp::imaging::Rendition;

std::span<const std::uint8_t> as_bytes(const std::string& bytes) {
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

std::string take_blob(VipsBlob* blob) {
  std::size_t length = 0;
  const void* data = vips_area_get_data(VIPS_AREA(blob), &length, nullptr, nullptr, nullptr);
  std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

std::string jpeg_of(const VImage& image, bool strip = false) {
  wsp::imaging::start_imaging();
  return take_blob(image.jpegsave_buffer(VImage::option()->set("Q", 95)->set("strip", strip)));
}

// Decodes encoded bytes (JPEG, WebP, AVIF) into memory, without autorotation.
VImage decode(const std::string& bytes) {
  return VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
}

VImage solid(int width, int height, std::vector<double> colour) {
  wsp::imaging::start_imaging();
  return VImage::black(width, height)
      .new_from_image(colour)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .copy_memory();
}

// A small recipe: only what a test looks at, fast to encode.
RenderRecipe recipe_with(std::vector<int> widths) {
  RenderRecipe recipe;
  recipe.widths = std::move(widths);
  recipe.webp.enabled = false;
  recipe.sharpen = false;
  recipe.placeholder = "none";
  recipe.jpeg.quality = 92;
  return recipe;
}

Rendition render_ok(const std::string& source, const RenderRecipe& recipe, const KeptMetadata& kept = {}) {
  auto rendition = wsp::imaging::render_photo(as_bytes(source), recipe, kept);
  if (!rendition.ok()) {
    ADD_FAILURE() << "render failed: " << rendition.message();
    return {};
  }
  return *rendition;
}

const EncodedVariant* largest(const Rendition& rendition, const std::string& format) {
  const EncodedVariant* found = nullptr;
  for (const auto& variant : rendition.variants)
    if (variant.format == format && (!found || variant.width > found->width)) found = &variant;
  return found;
}

bool is_red(const std::vector<double>& p) { return p[0] > 190 && p[1] < 70 && p[2] < 70; }
bool is_white(const std::vector<double>& p) { return p[0] > 220 && p[1] > 220 && p[2] > 220; }

// The inverse of what a viewer does for EXIF orientation `n`: the stored pixels
// that display as `upright`.
VImage stored_for_orientation(const VImage& upright, int n) {
  switch (n) {
    case 2:
      return upright.fliphor();
    case 3:
      return upright.rot180();
    case 4:
      return upright.flipver();
    case 5:
      return upright.rot90().fliphor();  // transpose, its own inverse
    case 6:
      return upright.rot270();  // viewer turns it 90 degrees clockwise
    case 7:
      return upright.rot90().flipver();  // transverse, its own inverse
    case 8:
      return upright.rot90();  // viewer turns it 90 degrees counter-clockwise
    default:
      return upright;
  }
}

TEST(RenderPhoto, EveryExifOrientationComesOutUpright) {
  // 64x48, white, with a red block in the top-left corner: any turn or flip moves it.
  VImage upright = solid(64, 48, {255, 255, 255});
  upright.draw_rect({255, 0, 0}, 0, 0, 24, 16, VImage::option()->set("fill", true));

  for (int n = 1; n <= 8; ++n) {
    SCOPED_TRACE("orientation " + std::to_string(n));
    VImage stored = stored_for_orientation(upright, n).copy_memory();
    stored.set("orientation", n);
    const std::string source = jpeg_of(stored);

    // The fixture itself: the file says orientation n, and libvips' own
    // autorot shows it upright.
    VImage loaded = decode(source);
    ASSERT_EQ(loaded.get_int("orientation"), n);
    VImage reference = loaded.autorot();
    ASSERT_EQ(reference.width(), 64);
    ASSERT_TRUE(is_red(reference.getpoint(6, 4)));

    auto rendition = render_ok(source, recipe_with({64}));
    EXPECT_EQ(rendition.width, 64);
    EXPECT_EQ(rendition.height, 48);
    const EncodedVariant* jpeg = largest(rendition, "jpeg");
    ASSERT_NE(jpeg, nullptr);
    VImage out = decode(jpeg->bytes);
    ASSERT_GT(out.width(), out.height()) << "landscape";
    EXPECT_EQ(out.width(), 64);
    EXPECT_EQ(out.height(), 48);
    // The block's centre is red, the other three corners are white.
    EXPECT_TRUE(is_red(out.getpoint(10, 7))) << "top-left is not red";
    EXPECT_TRUE(is_white(out.getpoint(56, 6))) << "top-right is not white";
    EXPECT_TRUE(is_white(out.getpoint(6, 42))) << "bottom-left is not white";
    EXPECT_TRUE(is_white(out.getpoint(56, 42))) << "bottom-right is not white";
    // The output carries no orientation that a viewer would apply a second time.
    if (out.get_typeof("orientation")) {
      EXPECT_EQ(out.get_int("orientation"), 1);
    }
  }
}

// A camera frame held sideways: stored landscape, shown portrait by EXIF.
// It is decoded shrunk, resized, then turned; turning reads the pixels out of
// order, which a decode streamed in order cannot serve by itself.
TEST(RenderPhoto, ALargeTurnedFrameComesOutUprightFromAShrunkDecode) {
  VImage upright = solid(2000, 3000, {255, 255, 255});
  upright.draw_rect({255, 0, 0}, 0, 0, 400, 300, VImage::option()->set("fill", true));
  for (int n : {6, 8}) {
    SCOPED_TRACE("orientation " + std::to_string(n));
    VImage stored = stored_for_orientation(upright, n).copy_memory();
    stored.set("orientation", n);
    auto rendition = render_ok(jpeg_of(stored), recipe_with({960}));
    EXPECT_EQ(rendition.width, 960);
    EXPECT_EQ(rendition.height, 1440);
    VImage out = decode(largest(rendition, "jpeg")->bytes);
    EXPECT_TRUE(is_red(out.getpoint(50, 30))) << "top-left is not red";
    EXPECT_TRUE(is_white(out.getpoint(900, 1400))) << "bottom-right is not white";
  }
}

// An Adobe RGB (1998) matrix/TRC profile, ICC v2, built from the published
// D50-adapted colorants and the 563/256 gamma.
std::string adobe_rgb_profile() {
  std::string tags;
  auto be32 = [](std::string& out, std::uint32_t v) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((v >> shift) & 0xFF));
  };
  auto fixed = [&](std::string& out, double v) { be32(out, static_cast<std::uint32_t>(std::lround(v * 65536))); };
  auto xyz = [&](double x, double y, double z) {
    std::string data = "XYZ " + std::string(4, '\0');
    fixed(data, x), fixed(data, y), fixed(data, z);
    return data;
  };
  std::string description = "Adobe RGB (1998)";
  std::string desc = "desc" + std::string(4, '\0');
  be32(desc, static_cast<std::uint32_t>(description.size() + 1));
  desc += description + '\0';
  desc += std::string(4 + 4 + 2 + 1 + 67, '\0');
  std::string cprt = "text" + std::string(4, '\0') + "No copyright, test data" + '\0';
  std::string curve = "curv" + std::string(4, '\0');
  be32(curve, 1);
  curve += {char(0x02), char(0x33), 0, 0};  // gamma 563/256 as u8Fixed8

  struct Tag {
    const char* signature;
    std::string data;
  };
  std::vector<Tag> list{{"desc", desc},
                        {"cprt", cprt},
                        {"wtpt", xyz(0.9642, 1.0, 0.8249)},
                        {"rXYZ", xyz(0.6097, 0.3111, 0.0195)},
                        {"gXYZ", xyz(0.2053, 0.6257, 0.0609)},
                        {"bXYZ", xyz(0.1492, 0.0632, 0.7446)},
                        {"rTRC", curve},
                        {"gTRC", curve},
                        {"bTRC", curve}};
  std::string table;
  be32(table, static_cast<std::uint32_t>(list.size()));
  std::uint32_t offset = 128 + 4 + 12 * static_cast<std::uint32_t>(list.size());
  std::string data;
  for (auto& tag : list) {
    while (tag.data.size() % 4) tag.data.push_back('\0');
    table += tag.signature;
    be32(table, offset + static_cast<std::uint32_t>(data.size()));
    be32(table, static_cast<std::uint32_t>(tag.data.size()));
    data += tag.data;
  }
  std::string header;
  be32(header, static_cast<std::uint32_t>(128 + table.size() + data.size()));
  be32(header, 0);
  be32(header, 0x02100000);
  header += "mntrRGB XYZ ";
  for (int part : {2024, 1, 1, 0, 0, 0}) header += {char(part >> 8), char(part & 0xFF)};
  header += "acsp";
  header.resize(68, '\0');  // platform, flags, device, attributes, rendering intent: none
  fixed(header, 0.9642), fixed(header, 1.0), fixed(header, 0.8249);
  header.resize(128, '\0');
  return header + table + data;
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    auto pattern = (fs::temp_directory_path() / "wsp-render-XXXXXX").string();
    int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    m_path = pattern;
    std::ofstream(m_path, std::ios::binary) << content;
  }
  ~TempFile() {
    std::error_code ignored;
    fs::remove(m_path, ignored);
  }
  const fs::path& path() const { return m_path; }

 private:
  fs::path m_path;
};

// Mean CIE76 colour difference of two 8-bit images, both read as sRGB.
double mean_delta_e(const VImage& a, const VImage& b) {
  auto lab = [](const VImage& image) {
    return image.extract_band(0, VImage::option()->set("n", 3))
        .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
        .colourspace(VIPS_INTERPRETATION_LAB);
  };
  return lab(a).dE76(lab(b)).avg();
}

// Eight saturated patches, 48 px each, well inside the sRGB gamut.
VImage colour_chart() {
  const std::vector<std::vector<double>> colours{{225, 35, 35},  {35, 195, 45},  {35, 65, 215},  {235, 215, 45},
                                                 {195, 45, 195}, {45, 195, 205}, {245, 140, 30}, {128, 128, 128}};
  VImage chart = solid(192, 96, {0, 0, 0});
  for (std::size_t i = 0; i < colours.size(); ++i)
    chart.draw_rect(colours[i], static_cast<int>(i % 4) * 48, static_cast<int>(i / 4) * 48, 48, 48,
                    VImage::option()->set("fill", true));
  return chart;
}

// The chart as an untagged sRGB JPEG and as an Adobe RGB JPEG with the profile
// embedded, and the chart's true colours, decoded from the first.
struct ColourTwins {
  std::string srgb_source, adobe_source;
  VImage truth;
};

ColourTwins colour_twins() {
  const std::string profile = adobe_rgb_profile();
  EXPECT_EQ(wsp::imaging::icc_description(as_bytes(profile)), "Adobe RGB (1998)");
  TempFile profile_file(profile);
  VImage srgb = colour_chart();
  VImage adobe = srgb.icc_transform(profile_file.path().c_str(), VImage::option()
                                                                     ->set("input_profile", "srgb")
                                                                     ->set("embedded", false)
                                                                     ->set("intent", VIPS_INTENT_RELATIVE))
                     .cast(VIPS_FORMAT_UCHAR)
                     .copy_memory();
  vips_image_set_blob_copy(adobe.get_image(), VIPS_META_ICC_NAME, profile.data(), profile.size());
  ColourTwins twins{jpeg_of(srgb), jpeg_of(adobe), {}};
  twins.truth = decode(twins.srgb_source);
  EXPECT_FALSE(twins.truth.get_typeof(VIPS_META_ICC_NAME)) << "the sRGB twin is untagged, as camera JPEGs are";
  EXPECT_TRUE(decode(twins.adobe_source).get_typeof(VIPS_META_ICC_NAME)) << "the fixture lost its profile";
  return twins;
}

VImage rendered_jpeg(const std::string& source, const RenderRecipe& recipe) {
  auto rendition = render_ok(source, recipe);
  const EncodedVariant* jpeg = largest(rendition, "jpeg");
  if (!jpeg) throw std::runtime_error("no JPEG variant");
  return decode(jpeg->bytes);
}

TEST(RenderPhoto, AdobeRgbSourceComesOutInTrueSrgbColours) {
  ColourTwins twins = colour_twins();
  VImage adobe_out = rendered_jpeg(twins.adobe_source, recipe_with({192}));
  ASSERT_EQ(adobe_out.width(), twins.truth.width());
  ASSERT_EQ(adobe_out.height(), twins.truth.height());
  EXPECT_LT(mean_delta_e(adobe_out, twins.truth), 3.0) << "the Adobe RGB source was not converted to sRGB";

  // Control: the Adobe RGB numbers read as sRGB are visibly off, so the check
  // above can fail.
  VImage raw_adobe = [&] {
    VImage decoded = decode(twins.adobe_source);
    std::size_t size = 0;
    void* pixels = decoded.write_to_memory(&size);
    VipsImage* bare = vips_image_new_from_memory_copy(pixels, size, decoded.width(), decoded.height(), decoded.bands(),
                                                      VIPS_FORMAT_UCHAR);
    g_free(pixels);
    if (!bare) throw vips::VError();
    return VImage(bare);  // the numbers alone, without the profile
  }();
  EXPECT_GT(mean_delta_e(raw_adobe, twins.truth), 5.0) << "the fixture is too dull to tell a conversion from none";
}

// Most cameras write sRGB JPEGs without a profile: their colours must come
// out as they went in, and the same as an Adobe RGB twin's.
TEST(RenderPhoto, UntaggedSrgbSourceKeepsItsColours) {
  ColourTwins twins = colour_twins();
  VImage srgb_out = rendered_jpeg(twins.srgb_source, recipe_with({192}));
  VImage adobe_out = rendered_jpeg(twins.adobe_source, recipe_with({192}));
  EXPECT_LT(mean_delta_e(srgb_out, twins.truth), 2.0) << "an untagged sRGB source changed colour";
  EXPECT_LT(mean_delta_e(srgb_out, adobe_out), 3.0) << "sRGB and Adobe RGB twins render differently";
  // The blue patch, where the shift is largest when untagged input is not read as sRGB.
  auto truth = twins.truth.getpoint(120, 24), out = srgb_out.getpoint(120, 24);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(out[c], truth[c], 6) << "band " << c;
}

TEST(RenderPhoto, OutputsDoNotDeclareAnUncalibratedColourSpace) {
  // The variants are sRGB and carry no ICC profile; EXIF ColorSpace must then
  // say sRGB (1) or be absent: 0xFFFF "Uncalibrated" tells colour-managed
  // software that the colours are unknown. With artist and copyright kept (the
  // default policy) the variants do carry EXIF.
  RenderRecipe recipe = recipe_with({192});
  recipe.webp.enabled = true;
  for (const KeptMetadata& kept : {KeptMetadata{}, KeptMetadata{"Ada Artist", "(c) 2026 Ada Studio"}}) {
    auto rendition = render_ok(jpeg_of(colour_chart()), recipe, kept);
    ASSERT_EQ(rendition.variants.size(), 2u);
    for (const auto& variant : rendition.variants) {
      SCOPED_TRACE(variant.format + (kept.artist.empty() ? " without" : " with") + " kept metadata");
      VImage out = decode(variant.bytes);
      if (!kept.artist.empty()) {
        EXPECT_TRUE(out.get_typeof(VIPS_META_EXIF_NAME)) << "kept metadata needs EXIF";
      }
      if (out.get_typeof("exif-ifd2-ColorSpace")) {
        std::string value = out.get_string("exif-ifd2-ColorSpace");
        EXPECT_EQ(value.rfind("1 ", 0), 0u) << "ColorSpace is " << value;
      }
    }
  }
}

// A little-endian TIFF (EXIF) block: IFD0 with an EXIF and a GPS sub-IFD.
class TiffWriter {
 public:
  struct Entry {
    std::uint16_t tag, type;
    std::uint32_t count;
    std::string data;
    int child = -1;
  };
  std::vector<std::vector<Entry>> ifds = std::vector<std::vector<Entry>>(1);

  void ascii(int ifd, std::uint16_t tag, const std::string& text) {
    ifds[ifd].push_back({tag, 2, std::uint32_t(text.size() + 1), text + '\0'});
  }
  void short_value(int ifd, std::uint16_t tag, std::uint16_t v) { ifds[ifd].push_back({tag, 3, 1, le(v, 2)}); }
  void bytes(int ifd, std::uint16_t tag, const std::string& data) {
    ifds[ifd].push_back({tag, 1, std::uint32_t(data.size()), data});
  }
  void rationals(int ifd, std::uint16_t tag, std::vector<std::pair<std::uint32_t, std::uint32_t>> values) {
    std::string data;
    for (auto [n, d] : values) data += le(n, 4) + le(d, 4);
    ifds[ifd].push_back({tag, 5, std::uint32_t(values.size()), data});
  }
  int child(int ifd, std::uint16_t tag) {
    ifds.emplace_back();
    ifds[ifd].push_back({tag, 4, 1, std::string(4, '\0'), static_cast<int>(ifds.size()) - 1});
    return static_cast<int>(ifds.size()) - 1;
  }

  std::string serialise() {
    std::vector<std::uint32_t> offsets;
    std::uint32_t position = 8;
    for (auto& ifd : ifds) {
      std::sort(ifd.begin(), ifd.end(), [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
      offsets.push_back(position);
      position += 2 + 12 * std::uint32_t(ifd.size()) + 4;
      for (const auto& e : ifd)
        if (e.data.size() > 4) position += std::uint32_t((e.data.size() + 1) & ~std::size_t(1));
    }
    std::string out = std::string("II*\0", 4) + le(8, 4);
    for (std::size_t i = 0; i < ifds.size(); ++i) {
      std::uint32_t data_at = offsets[i] + 2 + 12 * std::uint32_t(ifds[i].size()) + 4;
      out += le(std::uint32_t(ifds[i].size()), 2);
      std::string data;
      for (const auto& e : ifds[i]) {
        out += le(e.tag, 2) + le(e.type, 2) + le(e.count, 4);
        if (e.child >= 0) {
          out += le(offsets[e.child], 4);
        } else if (e.data.size() <= 4) {
          out += e.data + std::string(4 - e.data.size(), '\0');
        } else {
          out += le(data_at + std::uint32_t(data.size()), 4);
          data += e.data;
          if (data.size() % 2) data.push_back('\0');
        }
      }
      out += le(0, 4) + data;
    }
    return out;
  }

 private:
  static std::string le(std::uint32_t v, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return out;
  }
};

// Puts an APP1 "Exif" segment right after SOI, as cameras write it.
std::string with_exif_segment(const std::string& jpeg, const std::string& tiff) {
  std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::size_t length = payload.size() + 2;
  return jpeg.substr(0, 2) + "\xFF\xE1" + char(length >> 8) + char(length & 0xFF) + payload + jpeg.substr(2);
}

constexpr const char* k_serial = "SN4242424242";
constexpr const char* k_owner = "Owner Olga Ostrowska";
constexpr const char* k_artist = "Ada Artist";
constexpr const char* k_copyright = "(c) 2026 Ada Studio";

std::string camera_exif() {
  TiffWriter tiff;
  tiff.ascii(0, 0x010F, "TestCam");
  tiff.ascii(0, 0x0110, "TestCam Mark I");
  tiff.short_value(0, 0x0112, 1);
  tiff.ascii(0, 0x013B, k_artist);
  tiff.ascii(0, 0x8298, k_copyright);
  int exif = tiff.child(0, 0x8769);
  int gps = tiff.child(0, 0x8825);
  tiff.ascii(exif, 0xA430, k_owner);
  tiff.ascii(exif, 0xA431, k_serial);
  tiff.bytes(gps, 0x0000, std::string("\x02\x03\x00\x00", 4));
  tiff.ascii(gps, 0x0001, "N");
  tiff.rationals(gps, 0x0002, {{43, 1}, {31, 1}, {4719, 100}});
  tiff.ascii(gps, 0x0003, "E");
  tiff.rationals(gps, 0x0004, {{5, 1}, {26, 1}, {5067, 100}});
  return tiff.serialise();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// What a published variant tells about its camera: the EXIF libvips reads back,
// parsed with the project's parser, plus every metadata field name.
struct PublishedMetadata {
  wsp::imaging::CameraFacts facts;
  std::vector<std::string> gps_fields;
};

PublishedMetadata published_metadata(const std::string& bytes) {
  PublishedMetadata found;
  VImage image = VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  if (image.get_typeof(VIPS_META_EXIF_NAME)) {
    std::size_t length = 0;
    const void* data = image.get_blob(VIPS_META_EXIF_NAME, &length);
    found.facts = wsp::imaging::parse_exif({static_cast<const std::uint8_t*>(data), length});
  }
  gchar** fields = vips_image_get_fields(image.get_image());
  for (gchar** field = fields; *field; ++field)
    if (contains(*field, "GPS") || std::string_view(*field).starts_with("exif-ifd3-"))
      found.gps_fields.emplace_back(*field);
  g_strfreev(fields);
  return found;
}

RenderRecipe every_format(std::vector<int> widths) {
  RenderRecipe recipe = recipe_with(std::move(widths));
  recipe.webp.enabled = true;
  recipe.avif.enabled = true;
  recipe.avif.effort = 0;
  return recipe;
}

TEST(RenderPhoto, GpsSerialAndOwnerNeverReachTheOutputs) {
  const std::string tiff = camera_exif();
  const std::string source = with_exif_segment(jpeg_of(solid(160, 120, {90, 140, 200}), true), tiff);
  // The fixture: the source really carries all of it.
  auto facts = wsp::imaging::parse_exif(as_bytes(tiff));
  ASSERT_EQ(facts.serial, k_serial);
  ASSERT_EQ(facts.owner, k_owner);
  ASSERT_TRUE(facts.has_gps);
  ASSERT_EQ(facts.artist, k_artist);
  ASSERT_EQ(facts.copyright, k_copyright);
  ASSERT_TRUE(contains(source, k_serial));

  RenderRecipe recipe = every_format({160, 80});
  recipe.keep_metadata = {"copyright", "artist"};
  auto kept = wsp::imaging::kept_metadata(facts, recipe);
  EXPECT_EQ(kept.artist, k_artist);
  EXPECT_EQ(kept.copyright, k_copyright);
  auto rendition = render_ok(source, recipe, kept);
  ASSERT_EQ(rendition.variants.size(), 6u);
  for (const auto& variant : rendition.variants) {
    SCOPED_TRACE(variant.format + " " + std::to_string(variant.width));
    EXPECT_FALSE(contains(variant.bytes, k_serial)) << "serial number in the file";
    EXPECT_FALSE(contains(variant.bytes, k_owner)) << "owner name in the file";
    auto published = published_metadata(variant.bytes);
    EXPECT_FALSE(published.facts.has_gps);
    EXPECT_TRUE(published.gps_fields.empty()) << published.gps_fields.front();
    EXPECT_EQ(published.facts.serial, "");
    EXPECT_EQ(published.facts.owner, "");
    EXPECT_EQ(published.facts.artist, k_artist) << "artist is kept when configured";
    EXPECT_EQ(published.facts.copyright, k_copyright) << "copyright is kept when configured";
  }
  EXPECT_FALSE(contains(rendition.analysis_jpeg, k_serial));
  EXPECT_FALSE(contains(rendition.analysis_jpeg, k_owner));
}

TEST(RenderPhoto, NothingIsKeptWhenTheKeepListIsEmpty) {
  const std::string tiff = camera_exif();
  const std::string source = with_exif_segment(jpeg_of(solid(160, 120, {90, 140, 200}), true), tiff);
  RenderRecipe recipe = recipe_with({160});
  recipe.webp.enabled = true;
  recipe.keep_metadata = {};
  auto kept = wsp::imaging::kept_metadata(wsp::imaging::parse_exif(as_bytes(tiff)), recipe);
  EXPECT_EQ(kept.artist, "");
  EXPECT_EQ(kept.copyright, "");
  auto rendition = render_ok(source, recipe, kept);
  ASSERT_EQ(rendition.variants.size(), 2u);
  for (const auto& variant : rendition.variants) {
    SCOPED_TRACE(variant.format);
    for (const char* text : {k_serial, k_owner, k_artist, k_copyright})
      EXPECT_FALSE(contains(variant.bytes, text)) << text;
    auto published = published_metadata(variant.bytes);
    EXPECT_EQ(published.facts.artist, "");
    EXPECT_EQ(published.facts.copyright, "");
    EXPECT_FALSE(published.facts.has_gps);
  }
}

// A smooth gradient: cheap to make at any size, and every variant of it decodes.
std::string gradient_jpeg(int width, int height) {
  wsp::imaging::start_imaging();
  VImage xyz = VImage::xyz(width, height);
  VImage r = xyz[0] * (255.0 / width);
  VImage g = xyz[1] * (255.0 / height);
  VImage b = (xyz[0] + xyz[1]) * (127.0 / (width + height)) + 64;
  return jpeg_of(r.bandjoin({g, b})
                     .cast(VIPS_FORMAT_UCHAR)
                     .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB)));
}

std::vector<int> widths_of(const Rendition& rendition, const std::string& format) {
  std::vector<int> widths;
  for (const auto& variant : rendition.variants)
    if (variant.format == format) widths.push_back(variant.width);
  return widths;
}

void expect_variants_are_what_they_say(const Rendition& rendition, int source_width, int source_height) {
  for (const auto& variant : rendition.variants) {
    SCOPED_TRACE(variant.format + " " + std::to_string(variant.width));
    VImage out = decode(variant.bytes);
    EXPECT_EQ(out.width(), variant.width);
    EXPECT_EQ(out.height(), variant.height);
    EXPECT_NEAR(variant.height, double(variant.width) * source_height / source_width, 1.0) << "aspect kept";
  }
}

TEST(RenderPhoto, ASmallSourceIsNeverUpscaled) {
  RenderRecipe recipe = recipe_with({480, 960});
  recipe.webp.enabled = true;
  auto rendition = render_ok(gradient_jpeg(300, 200), recipe);
  EXPECT_EQ(rendition.width, 300);
  EXPECT_EQ(rendition.height, 200);
  EXPECT_EQ(widths_of(rendition, "jpeg"), std::vector<int>{300});
  EXPECT_EQ(widths_of(rendition, "webp"), std::vector<int>{300});
  EXPECT_EQ(rendition.variants.size(), 2u);
  expect_variants_are_what_they_say(rendition, 300, 200);
}

TEST(RenderPhoto, ALargeSourceGetsExactlyTheConfiguredWidthsWidestFirst) {
  const std::string source = gradient_jpeg(2000, 1334);
  RenderRecipe recipe = recipe_with({960, 480, 1600});
  recipe.webp.enabled = true;
  auto rendition = render_ok(source, recipe);
  EXPECT_EQ(widths_of(rendition, "jpeg"), (std::vector<int>{1600, 960, 480}));
  EXPECT_EQ(widths_of(rendition, "webp"), (std::vector<int>{1600, 960, 480}));
  ASSERT_EQ(rendition.variants.size(), 6u);
  for (std::size_t i = 1; i < rendition.variants.size(); ++i)
    EXPECT_GE(rendition.variants[i - 1].width, rendition.variants[i].width) << "widest first";
  expect_variants_are_what_they_say(rendition, 2000, 1334);

  // A configured width above the source's: the source's own width instead, never more.
  recipe.widths = {480, 960, 1600, 2400};
  auto capped = render_ok(source, recipe);
  EXPECT_EQ(widths_of(capped, "jpeg"), (std::vector<int>{2000, 1600, 960, 480}));
  EXPECT_EQ(capped.width, 2000);
}

// A vertical edge between two greys: sharpening must steepen it (darker on the
// dark side, lighter on the light side) and leave flat areas as they are.
TEST(RenderPhoto, SharpeningSteepensEdgesAndLeavesFlatAreasAlone) {
  wsp::imaging::start_imaging();
  VImage left = solid(200, 100, {80, 80, 80});
  VImage right = solid(200, 100, {180, 180, 180});
  VImage edge = left.join(right, VIPS_DIRECTION_HORIZONTAL);
  const std::string source = take_blob(edge.jpegsave_buffer(VImage::option()->set("Q", 100)));
  RenderRecipe recipe = recipe_with({400});
  recipe.jpeg.quality = 100;
  VImage soft = decode(largest(render_ok(source, recipe), "jpeg")->bytes);
  recipe.sharpen = true;
  VImage sharp = decode(largest(render_ok(source, recipe), "jpeg")->bytes);
  ASSERT_EQ(sharp.width(), 400);
  const auto at = [](const VImage& image, int x) { return image.getpoint(x, 50)[0]; };
  EXPECT_LT(at(sharp, 199), at(soft, 199) - 5) << "dark side of the edge";
  EXPECT_GT(at(sharp, 200), at(soft, 200) + 5) << "light side of the edge";
  EXPECT_NEAR(at(sharp, 50), at(soft, 50), 2) << "flat area";
  EXPECT_NEAR(at(sharp, 350), at(soft, 350), 2) << "flat area";
}

TEST(RenderPhoto, WebpEffortReachesTheEncoder) {
  const std::string source = gradient_jpeg(800, 600);
  RenderRecipe recipe = recipe_with({400});
  recipe.jpeg.enabled = false;
  recipe.webp.enabled = true;
  recipe.webp.effort = 0;
  const std::string fastest = largest(render_ok(source, recipe), "webp")->bytes;
  recipe.webp.effort = 6;
  const std::string slowest = largest(render_ok(source, recipe), "webp")->bytes;
  EXPECT_NE(fastest, slowest);
  EXPECT_EQ(decode(fastest).width(), 400);
  EXPECT_EQ(decode(slowest).width(), 400);
}

TEST(RenderPhoto, AvifVariantsWhenEnabled) {
  auto rendition = render_ok(gradient_jpeg(600, 400), every_format({480, 960}));
  EXPECT_EQ(widths_of(rendition, "avif"), (std::vector<int>{600, 480}));
  EXPECT_EQ(widths_of(rendition, "webp"), (std::vector<int>{600, 480}));
  EXPECT_EQ(widths_of(rendition, "jpeg"), (std::vector<int>{600, 480}));
  for (const auto& variant : rendition.variants) {
    SCOPED_TRACE(variant.format + " " + std::to_string(variant.width));
    if (variant.format == "avif") {
      ASSERT_GT(variant.bytes.size(), 12u);
      EXPECT_EQ(variant.bytes.substr(4, 8), "ftypavif");
    } else if (variant.format == "webp") {
      EXPECT_EQ(variant.bytes.substr(0, 4), "RIFF");
      EXPECT_EQ(variant.bytes.substr(8, 4), "WEBP");
    } else {
      EXPECT_EQ(variant.bytes.substr(0, 2), "\xFF\xD8");
    }
  }
  expect_variants_are_what_they_say(rendition, 600, 400);
}

// Largest absolute difference and mean absolute difference of one region.
struct RegionDifference {
  double max = 0;
  double mean = 0;
};
RegionDifference difference(const VImage& a, const VImage& b, int left, int top, int width, int height) {
  VImage d = (a.extract_area(left, top, width, height).cast(VIPS_FORMAT_FLOAT) -
              b.extract_area(left, top, width, height).cast(VIPS_FORMAT_FLOAT))
                 .abs();
  return {d.max(), d.avg()};
}

wsp::config::Watermark text_mark(int min_width) {
  wsp::config::Watermark mark;
  mark.text = "PROOF";
  mark.position = "bottom-right";
  mark.opacity = 1.0;
  mark.size = 0.05;
  mark.min_width = min_width;
  return mark;
}

TEST(RenderPhoto, WatermarkLandsWhereConfigured) {
  const std::string source = jpeg_of(solid(1200, 800, {128, 128, 128}));
  RenderRecipe plain = recipe_with({1200});
  RenderRecipe marked = plain;
  marked.watermark = text_mark(0);
  VImage without = decode(largest(render_ok(source, plain), "jpeg")->bytes);
  VImage with = decode(largest(render_ok(source, marked), "jpeg")->bytes);
  ASSERT_EQ(with.width(), 1200);

  auto bottom_right = difference(with, without, 720, 640, 480, 160);
  EXPECT_GT(bottom_right.max, 60) << "no watermark in the bottom-right corner";
  EXPECT_GT(bottom_right.mean, 1.0);
  auto top_left = difference(with, without, 0, 0, 480, 320);
  EXPECT_LE(top_left.max, 2) << "the top-left corner changed";
}

TEST(RenderPhoto, NoWatermarkBelowMinWidth) {
  const std::string source = jpeg_of(solid(1200, 800, {128, 128, 128}));
  RenderRecipe plain = recipe_with({1200, 480});
  RenderRecipe marked = plain;
  marked.watermark = text_mark(960);
  auto without = render_ok(source, plain);
  auto with = render_ok(source, marked);
  ASSERT_EQ(widths_of(with, "jpeg"), (std::vector<int>{1200, 480}));
  ASSERT_EQ(widths_of(without, "jpeg"), (std::vector<int>{1200, 480}));

  VImage big_with = decode(with.variants[0].bytes), big_without = decode(without.variants[0].bytes);
  EXPECT_GT(difference(big_with, big_without, 720, 640, 480, 160).max, 60) << "1200 px should be watermarked";
  VImage small_with = decode(with.variants[1].bytes), small_without = decode(without.variants[1].bytes);
  EXPECT_LE(difference(small_with, small_without, 0, 0, 480, 320).max, 2) << "480 px is below min_width";
}

// libvips draws text from Pango markup: a photographer's plain text with an
// ampersand or a "<3" must still be drawn, letter for letter.
TEST(RenderPhoto, WatermarkTextWithMarkupCharactersIsDrawnAsWritten) {
  const std::string source = jpeg_of(solid(1200, 800, {128, 128, 128}));
  RenderRecipe plain = recipe_with({1200});
  VImage without = decode(largest(render_ok(source, plain), "jpeg")->bytes);
  for (const std::string text : {"Smith & Jones Photography", "Ana <3 Ben", "a &amp; b"}) {
    SCOPED_TRACE(text);
    RenderRecipe marked = plain;
    marked.watermark = text_mark(0);
    marked.watermark->text = text;
    auto rendition = wsp::imaging::render_photo(as_bytes(source), marked, {});
    ASSERT_TRUE(rendition.ok()) << rendition.message();
    VImage with = decode(largest(*rendition, "jpeg")->bytes);
    EXPECT_GT(difference(with, without, 600, 640, 600, 160).max, 60) << "no watermark drawn";
  }
  // The entity is drawn as the five characters written, wider than a lone '&'.
  auto width_of_mark = [&](const std::string& text) {
    RenderRecipe marked = plain;
    marked.watermark = text_mark(0);
    marked.watermark->text = text;
    VImage with = decode(largest(render_ok(source, marked), "jpeg")->bytes);
    VImage changed = (with.cast(VIPS_FORMAT_FLOAT) - without.cast(VIPS_FORMAT_FLOAT)).abs().bandmean() > 30;
    int top = 0, width = 0, height = 0;
    changed.find_trim(&top, &width, &height,
                      VImage::option()->set("background", std::vector<double>{0})->set("threshold", 10.0));
    return width;
  };
  EXPECT_GT(width_of_mark("a &amp; b"), width_of_mark("a & b") + 20) << "an entity was read as markup";
}

// WebP holds at most 16383 px a side; JPEG 65500. A tall strip or a width
// over the WebP limit loses only the variants a format cannot hold.
TEST(RenderPhoto, AVariantTooLargeForWebpStillGetsItsJpeg) {
  RenderRecipe recipe = recipe_with({480});
  recipe.webp.enabled = true;
  auto rendition = wsp::imaging::render_photo(as_bytes(jpeg_of(solid(100, 20000, {90, 160, 60}))), recipe, {});
  ASSERT_TRUE(rendition.ok()) << rendition.message();
  EXPECT_EQ(widths_of(*rendition, "jpeg"), std::vector<int>{100});
  EXPECT_EQ(widths_of(*rendition, "webp"), std::vector<int>{});
  ASSERT_EQ(rendition->notes.size(), 1u);
  EXPECT_NE(rendition->notes[0].find("WebP"), std::string::npos) << rendition->notes[0];
  EXPECT_EQ(decode(largest(*rendition, "jpeg")->bytes).height(), 20000);
}

TEST(RenderPhoto, OnlyFormatThatCannotHoldTheVariantIsAnError) {
  RenderRecipe recipe = recipe_with({480});
  recipe.jpeg.enabled = false;
  recipe.webp.enabled = true;
  auto rendition = wsp::imaging::render_photo(as_bytes(jpeg_of(solid(100, 20000, {90, 160, 60}))), recipe, {});
  ASSERT_FALSE(rendition.ok());
  EXPECT_NE(rendition.message().find("16383"), std::string::npos) << rendition.message();
}

// The EXIF chunk of a WebP holds the TIFF structure itself, without the
// "Exif\0\0" that JPEG's APP1 segment starts with.
TEST(RenderPhoto, WebpExifChunkStartsWithTheByteOrderMark) {
  RenderRecipe recipe = recipe_with({192});
  recipe.webp.enabled = true;
  auto rendition = render_ok(jpeg_of(colour_chart()), recipe, KeptMetadata{"Ada Artist", "(c) 2026 Ada Studio"});
  const EncodedVariant* webp = largest(rendition, "webp");
  ASSERT_NE(webp, nullptr);
  const std::string& bytes = webp->bytes;
  std::string chunk;
  for (std::size_t at = 12; at + 8 <= bytes.size();) {
    std::uint32_t size = std::uint8_t(bytes[at + 4]) | (std::uint8_t(bytes[at + 5]) << 8) |
                         (std::uint8_t(bytes[at + 6]) << 16) | (std::uint32_t(std::uint8_t(bytes[at + 7])) << 24);
    if (bytes.compare(at, 4, "EXIF") == 0) chunk = bytes.substr(at + 8, size);
    at += 8 + size + (size & 1);
  }
  ASSERT_GE(chunk.size(), 8u) << "no EXIF chunk";
  EXPECT_EQ(chunk.substr(0, 4), std::string("II*\0", 4));
  auto facts = wsp::imaging::parse_exif(as_bytes(chunk));
  EXPECT_EQ(facts.artist, "Ada Artist");
  EXPECT_EQ(facts.copyright, "(c) 2026 Ada Studio");
}

// A CMYK source is converted from its own embedded profile, whatever its
// container: a TIFF gives the colours its JPEG twin gives.
TEST(RenderPhoto, CmykTiffIsConvertedWithItsEmbeddedProfile) {
  const fs::path profile = "/usr/share/color/icc/ghostscript/default_cmyk.icc";
  WSP_REQUIRE_TOOL(fs::exists(profile), profile << " is missing");
  VImage cmyk = solid(96, 64, {103, 189, 81})
                    .icc_export(VImage::option()
                                    ->set("output_profile", profile.c_str())
                                    ->set("intent", VIPS_INTENT_PERCEPTUAL))
                    .copy_memory();
  ASSERT_EQ(cmyk.bands(), 4);
  ASSERT_TRUE(cmyk.get_typeof(VIPS_META_ICC_NAME));
  const std::string tiff = take_blob(cmyk.tiffsave_buffer());
  const std::string jpeg = take_blob(cmyk.jpegsave_buffer(VImage::option()->set("Q", 100)));
  VImage untagged_cmyk = cmyk.copy();
  untagged_cmyk.remove(VIPS_META_ICC_NAME);
  const std::string untagged_tiff = take_blob(untagged_cmyk.tiffsave_buffer());

  auto centre = [](const std::string& source, std::vector<int> widths) {
    VImage out = rendered_jpeg(source, recipe_with(std::move(widths)));
    return out.getpoint(out.width() / 2, out.height() / 2);
  };
  for (std::vector<int> widths : {std::vector<int>{96}, std::vector<int>{48}}) {
    SCOPED_TRACE(widths[0]);
    auto from_jpeg = centre(jpeg, widths), from_tiff = centre(tiff, widths), generic = centre(untagged_tiff, widths);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(from_tiff[c], from_jpeg[c], 3) << "band " << c;
    // Control: libvips' generic CMYK profile gives visibly other colours.
    EXPECT_GT(std::abs(generic[1] - from_jpeg[1]) + std::abs(generic[2] - from_jpeg[2]), 12);
  }
}

std::string noisy_jpeg(int width, int height) {
  wsp::imaging::start_imaging();
  auto image = VImage::gaussnoise(width, height, VImage::option()->set("mean", 128.0)->set("sigma", 40.0))
                   .cast(VIPS_FORMAT_UCHAR);
  return jpeg_of(
      image.bandjoin({image, image}).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB)));
}

TEST(RenderPhoto, TruncatedJpegFailsWithAReason) {
  const std::string whole = noisy_jpeg(400, 300);
  const std::string truncated = whole.substr(0, whole.size() * 6 / 10);
  // Full size, and a width small enough for libjpeg to shrink on load.
  for (std::vector<int> widths : {std::vector<int>{480}, std::vector<int>{64}}) {
    SCOPED_TRACE("widths " + std::to_string(widths.front()));
    RenderRecipe recipe = recipe_with(widths);
    ASSERT_TRUE(wsp::imaging::render_photo(as_bytes(whole), recipe, {}).ok()) << "control: the whole file renders";
    auto rendition = wsp::imaging::render_photo(as_bytes(truncated), recipe, {});
    EXPECT_FALSE(rendition.ok()) << "a truncated JPEG was rendered (half grey)";
    if (!rendition.ok()) {
      EXPECT_FALSE(rendition.message().empty());
    }
  }
  auto garbage = wsp::imaging::render_photo(as_bytes(std::string(5000, '\x5A')), recipe_with({480}), {});
  EXPECT_FALSE(garbage.ok());
  if (!garbage.ok()) {
    EXPECT_FALSE(garbage.message().empty());
  }
}

TEST(RenderPhoto, OneDecodePerPhoto) {
  const std::string source = gradient_jpeg(800, 600);
  RenderRecipe recipe = recipe_with({640, 320, 160});
  recipe.webp.enabled = true;
  recipe.placeholder = "blurhash";
  const auto before = wsp::imaging::decode_count();
  auto rendition = render_ok(source, recipe);
  EXPECT_EQ(wsp::imaging::decode_count() - before, 1);
  EXPECT_EQ(rendition.variants.size(), 6u);
  EXPECT_FALSE(rendition.analysis_jpeg.empty());
  EXPECT_EQ(rendition.placeholder.size(), 28u) << rendition.placeholder;  // 4x3 blurhash
}

constexpr std::string_view k_base83 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

int decode83(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 83 + static_cast<int>(k_base83.find(c));
  return value;
}

// Expected strings computed with the reference C encoder (woltapp/blurhash
// C/encode.c), in float and in double, which agree on these images.
TEST(Blurhash, SolidRedMatchesTheReferenceEncoder) {
  std::vector<std::uint8_t> red;
  for (int i = 0; i < 32 * 24; ++i) red.insert(red.end(), {255, 0, 0});
  const std::string hash = wsp::imaging::blurhash_encode(red, 32, 24, 4, 3);
  ASSERT_EQ(hash.size(), 28u);
  EXPECT_EQ(hash[0], 'L') << "size flag of 4x3";
  EXPECT_EQ(decode83(hash.substr(2, 4)), 0xFF0000) << "the DC is pure red";
  EXPECT_EQ(hash, "LDTI:j]9fQ]9|co1fQo1fQfQfQfQ");
  EXPECT_EQ(wsp::imaging::blurhash_encode(red, 32, 24, 1, 1), "00TI:j");
}

TEST(Blurhash, GradientMatchesTheReferenceEncoder) {
  std::vector<std::uint8_t> pixels;
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 16; ++x)
      pixels.insert(pixels.end(), {std::uint8_t(x * 16), std::uint8_t(y * 20), std::uint8_t(255 - x * 8 - y * 4)});
  EXPECT_EQ(wsp::imaging::blurhash_encode(pixels, 16, 12, 4, 3), "LsGuU}2|w$o$qpR;jve?g3fkfQfk");
  EXPECT_EQ(wsp::imaging::blurhash_encode(pixels, 16, 12, 3, 4), "TsGuU}2|w$qpR;jvg3fkfQt9Siju");
}

TEST(Blurhash, TooFewPixelsGiveNoHash) {
  std::vector<std::uint8_t> pixels(10, 0);
  EXPECT_EQ(wsp::imaging::blurhash_encode(pixels, 4, 4, 4, 3), "");
  EXPECT_EQ(wsp::imaging::blurhash_encode(pixels, 0, 4, 4, 3), "");
}

TEST(Base64, Rfc4648Vectors) {
  using wsp::imaging::base64_encode;
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xFF\xFE\x00", 3)), "//4A");
  EXPECT_EQ(base64_encode(std::string("\xFB\xFF", 2)), "+/8=");
}

TEST(RecipeFingerprint, ChangesWithEverySettingThatChangesTheOutput) {
  using wsp::imaging::recipe_fingerprint;
  const RenderRecipe base;
  const std::string fingerprint = recipe_fingerprint(base);
  EXPECT_EQ(recipe_fingerprint(RenderRecipe{}), fingerprint) << "stable";

  auto differs = [&](auto change, const char* what) {
    RenderRecipe changed = base;
    change(changed);
    EXPECT_NE(recipe_fingerprint(changed), fingerprint) << what;
  };
  differs([](RenderRecipe& r) { r.widths = {480, 960, 1600}; }, "widths");
  differs([](RenderRecipe& r) { r.widths.push_back(3200); }, "a width added");
  differs([](RenderRecipe& r) { r.jpeg.quality = 90; }, "jpeg quality");
  differs([](RenderRecipe& r) { r.webp.quality = 70; }, "webp quality");
  differs([](RenderRecipe& r) { r.webp.effort = 2; }, "webp effort");
  differs([](RenderRecipe& r) { r.webp.enabled = false; }, "webp disabled");
  differs([](RenderRecipe& r) { r.avif.enabled = true; }, "avif enabled");
  differs([](RenderRecipe& r) { r.sharpen = false; }, "sharpen");
  differs([](RenderRecipe& r) { r.keep_metadata = {}; }, "metadata policy");
  differs([](RenderRecipe& r) { r.watermark = text_mark(960); }, "watermark added");

  RenderRecipe marked = base;
  marked.watermark = text_mark(960);
  const std::string marked_fingerprint = recipe_fingerprint(marked);
  auto mark_differs = [&](auto change, const char* what) {
    RenderRecipe changed = marked;
    change(*changed.watermark);
    EXPECT_NE(recipe_fingerprint(changed), marked_fingerprint) << what;
  };
  mark_differs([](wsp::config::Watermark& m) { m.text = "© Studio"; }, "watermark text");
  mark_differs([](wsp::config::Watermark& m) { m.opacity = 0.4; }, "watermark opacity");
  mark_differs([](wsp::config::Watermark& m) { m.position = "top-left"; }, "watermark position");
  mark_differs([](wsp::config::Watermark& m) { m.min_width = 480; }, "watermark min_width");
}

// The fingerprint decides what is re-rendered: a setting that leaves every
// output byte the same must not re-render a whole shoot.
TEST(RecipeFingerprint, SameForTheSameWidthsInAnotherOrder) {
  RenderRecipe sorted, reordered;
  sorted.widths = {480, 960, 1600, 2400};
  reordered.widths = {2400, 1600, 960, 480};
  EXPECT_EQ(wsp::imaging::recipe_fingerprint(reordered), wsp::imaging::recipe_fingerprint(sorted));
}

TEST(RecipeFingerprint, SameWhenOnlyADisabledFormatsSettingsChange) {
  RenderRecipe base, changed;
  ASSERT_FALSE(base.avif.enabled);
  changed.avif.quality = 40;
  changed.avif.effort = 7;
  EXPECT_EQ(wsp::imaging::recipe_fingerprint(changed), wsp::imaging::recipe_fingerprint(base));
}

}  // namespace
