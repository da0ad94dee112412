// The copy of an original offered for download, made in a file: a TIFF (which
// exiv2 rewrites through a mapping of the file) loses its GPS and serial
// number and keeps its camera and pixels; a file exiv2 cannot read is refused
// with the reason. And the streaming pieces it is made with: the hashed copy
// and the streaming SHA-256 agree with the whole-buffer hash.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <vips/vips8>

#include "config/config.hpp"
#include "imaging/original.hpp"
#include "imaging/probe.hpp"
#include "require_tool.hpp"
#include "temp_dir.hpp"
#include "test_images.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"

namespace {

namespace fs = std::filesystem;

std::string output_of(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string text;
  std::array<char, 4096> buffer{};
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get())) text += buffer.data();
  return text;
}

std::string bytes_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(OfferedOriginal, TiffLosesGpsAndSerialKeepsCameraAndPixels) {
  WSP_REQUIRE_TOOL(std::system("exiftool -ver >/dev/null 2>&1") == 0, "exiftool is needed to tag the TIFF");
  wsp::imaging::start_imaging();
  wsp::testing::TempDir dir;
  const auto original = dir.path() / "DSC_0042.tif";
  vips::VImage::gaussnoise(320, 240, vips::VImage::option()->set("mean", 128.0)->set("sigma", 40.0))
      .cast(VIPS_FORMAT_UCHAR)
      .bandjoin({vips::VImage::black(320, 240), vips::VImage::black(320, 240)})
      .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .write_to_file(original.c_str());
  const std::string tag = "exiftool -q -overwrite_original -Make=Nikon '-Model=Z 8' -SerialNumber=3001234 "
                          "-GPSLatitude=48.8566 -GPSLatitudeRef=N -GPSLongitude=2.3522 -GPSLongitudeRef=E '" +
                          original.string() + "'";
  ASSERT_EQ(std::system(tag.c_str()), 0) << tag;
  ASSERT_NE(output_of("exiftool -s3 -GPSLatitude '" + original.string() + "'"), "");

  const auto copy = dir.path() / "copy.tif";
  auto copied = wsp::util::copy_file_hashed(original, copy);
  ASSERT_TRUE(copied.ok()) << copied.message();
  EXPECT_EQ(*copied, wsp::util::sha256_hex(bytes_of(original)));
  auto made = wsp::imaging::make_published_original(copy, wsp::config::RenderRecipe{});
  ASSERT_TRUE(made.ok()) << made.message();

  EXPECT_EQ(output_of("exiftool -s3 -GPSLatitude -GPSLongitude -SerialNumber '" + copy.string() + "'"), "");
  EXPECT_EQ(output_of("exiftool -s3 -Model '" + copy.string() + "'"), "Z 8\n");
  EXPECT_NE(*copied, *wsp::util::sha256_of_file(copy)) << "the copy was rewritten";
  auto before = vips::VImage::new_from_file(original.c_str());
  auto after = vips::VImage::new_from_file(copy.c_str());
  ASSERT_EQ(after.width(), before.width());
  ASSERT_EQ(after.height(), before.height());
  EXPECT_EQ((before - after).abs().max(), 0.0) << "the pixels are the original's";
}

TEST(OfferedOriginal, FileExiv2CannotReadIsRefusedWithTheReason) {
  wsp::testing::TempDir dir;
  const auto copy = dir.path() / "IMG_0001.JPG";
  std::ofstream(copy) << "not a photograph";
  auto made = wsp::imaging::make_published_original(copy, wsp::config::RenderRecipe{});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.message().find("its metadata cannot be rewritten"), std::string::npos) << made.message();
}

TEST(StreamedFiles, HashedCopyAndStreamingHashAgreeWithTheWholeBuffer) {
  wsp::testing::TempDir dir;
  const std::string jpeg = wsp::testing::make_jpeg(1200, 900, 90);
  // Larger than the copy's buffer, so that it is read in several pieces.
  std::string bytes;
  while (bytes.size() < (3u << 20)) bytes += jpeg;
  const auto source = dir.path() / "source.bin";
  ASSERT_TRUE(wsp::util::write_file_atomically(source, bytes).ok());
  const std::string whole = wsp::util::sha256_hex(bytes);

  wsp::util::Sha256Stream stream;
  for (std::size_t at = 0; at < bytes.size(); at += 7919)
    stream.add(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()) + at,
                         std::min<std::size_t>(7919, bytes.size() - at)));
  EXPECT_EQ(stream.hex(), whole);

  const auto copy = wsp::util::temporary_path(dir.path() / "copy.bin");
  EXPECT_EQ(copy.parent_path(), dir.path());
  auto copied = wsp::util::copy_file_hashed(source, copy);
  ASSERT_TRUE(copied.ok()) << copied.message();
  EXPECT_EQ(*copied, whole);
  EXPECT_EQ(bytes_of(copy), bytes);
  ASSERT_TRUE(wsp::util::place_file_atomically(copy, dir.path() / "copy.bin").ok());
  EXPECT_FALSE(fs::exists(copy));
  EXPECT_EQ(*wsp::util::sha256_of_file(dir.path() / "copy.bin"), whole);

  auto missing = wsp::util::copy_file_hashed(dir.path() / "gone.bin", dir.path() / "other.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("gone.bin"), std::string::npos) << missing.message();
}

}  // namespace
