// Publishing's moving parts: the catalog's record of published files, the
// local target (atomic writes, refused paths, links that lead out, empty
// folders), the BlurHash placeholder the gallery shows, and the template the
// binary carries.

#include "catalog/catalog.hpp"
#include "imaging/placeholder.hpp"
#include "imaging/probe.hpp"
#include "publish/gallery.hpp"
#include "publish/target.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <vips/vips8>

#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using wsp::testing::TempDir;

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// --- the catalog's record ---------------------------------------------------

TEST(PublishedRecord, RecordsReplacesAndForgetsPerTarget) {
  TempDir dir;
  auto catalog = wsp::catalog::open_sqlite_catalog(dir.path() / "catalog.db");
  EXPECT_TRUE(catalog->published("site").empty());
  catalog->record_published("site", {"index.html", std::string(64, 'a'), 100, 0});
  catalog->record_published("site", {"renders/a-480.0123456789ab.jpg", std::string(64, 'b'), 2000, 0});
  catalog->record_published("mirror", {"index.html", std::string(64, 'c'), 90, 0});

  auto site = catalog->published("site");
  ASSERT_EQ(site.size(), 2u);
  EXPECT_EQ(site[0].path, "index.html");
  EXPECT_EQ(site[0].sha256, std::string(64, 'a'));
  EXPECT_EQ(site[0].size, 100);
  EXPECT_GT(site[0].published_ms, 0);  // "now" when recorded with 0
  EXPECT_EQ(site[1].path, "renders/a-480.0123456789ab.jpg");

  // A second record of the same path replaces the first; the other target is untouched.
  catalog->record_published("site", {"index.html", std::string(64, 'd'), 120, 0});
  site = catalog->published("site");
  ASSERT_EQ(site.size(), 2u);
  EXPECT_EQ(site[0].sha256, std::string(64, 'd'));
  EXPECT_EQ(site[0].size, 120);
  EXPECT_EQ(catalog->published("mirror").at(0).sha256, std::string(64, 'c'));

  catalog->forget_published("site", "index.html");
  catalog->forget_published("site", "never-published.html");  // nothing to forget is not an error
  site = catalog->published("site");
  ASSERT_EQ(site.size(), 1u);
  EXPECT_EQ(site[0].path, "renders/a-480.0123456789ab.jpg");
  EXPECT_EQ(catalog->published("mirror").size(), 1u);

  // It is in the file, not only in this connection.
  catalog.reset();
  EXPECT_EQ(wsp::catalog::open_sqlite_catalog(dir.path() / "catalog.db")->published("site").size(), 1u);
}

// --- the local target -------------------------------------------------------

class LocalTargetTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto opened = wsp::publish::open_local_target("site", root());
    ASSERT_TRUE(opened.ok()) << opened.message();
    m_target = std::move(*opened);
  }
  fs::path root() const { return m_dir.path() / "public"; }

  TempDir m_dir;
  std::unique_ptr<wsp::publish::PublishTarget> m_target;
};

TEST_F(LocalTargetTest, PutCreatesFoldersAndReplacesWholeFiles) {
  ASSERT_TRUE(m_target->put("renders/day/a.jpg", "first"));
  EXPECT_EQ(read(root() / "renders/day/a.jpg"), "first");
  struct stat before {};
  ASSERT_EQ(::stat((root() / "renders/day/a.jpg").c_str(), &before), 0);
  ASSERT_TRUE(m_target->put("renders/day/a.jpg", "second, longer"));
  EXPECT_EQ(read(root() / "renders/day/a.jpg"), "second, longer");
  // Replaced by a rename, not rewritten in place: a reader holding the old file keeps it whole.
  struct stat after {};
  ASSERT_EQ(::stat((root() / "renders/day/a.jpg").c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  // No temporary file is left beside it.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root() / "renders/day")) names.push_back(entry.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"a.jpg"});
  EXPECT_EQ(m_target->location("index.html"), (root() / "index.html").string());
}

TEST_F(LocalTargetTest, RefusesPathsThatCouldLeaveTheTarget) {
  for (const char* path : {"../x", "renders/../../x", "/etc/passwd", "", "a//b", "./a", "a\\b"}) {
    auto put = m_target->put(path, "bad");
    EXPECT_FALSE(put.ok()) << path;
    EXPECT_FALSE(m_target->remove(path).ok()) << path;
  }
  EXPECT_FALSE(fs::exists(m_dir.path() / "x"));
}

TEST_F(LocalTargetTest, NeverFollowsALinkOutOfTheTarget) {
  const fs::path outside = m_dir.path() / "outside";
  fs::create_directories(outside);
  write(outside / "keep.jpg", "not the tool's");
  fs::create_directory_symlink(outside, root() / "renders");

  auto put = m_target->put("renders/evil.jpg", "escaped");
  EXPECT_FALSE(put.ok());
  EXPECT_NE(put.message().find("renders"), std::string::npos) << put.message();
  EXPECT_FALSE(fs::exists(outside / "evil.jpg"));

  EXPECT_FALSE(m_target->remove("renders/keep.jpg").ok());
  EXPECT_EQ(read(outside / "keep.jpg"), "not the tool's");

  // A link at the file's own place is replaced as a name, never written through.
  write(outside / "page.html", "outside page");
  fs::create_symlink(outside / "page.html", root() / "page.html");
  ASSERT_TRUE(m_target->put("page.html", "inside page"));
  EXPECT_FALSE(fs::is_symlink(root() / "page.html"));
  EXPECT_EQ(read(root() / "page.html"), "inside page");
  EXPECT_EQ(read(outside / "page.html"), "outside page");
}

TEST_F(LocalTargetTest, RemoveDeletesTheFileAndTheFoldersItLeavesEmpty) {
  ASSERT_TRUE(m_target->put("renders/2026/a.jpg", "a"));
  ASSERT_TRUE(m_target->put("renders/2026/b.jpg", "b"));
  ASSERT_TRUE(m_target->put("renders/c.jpg", "c"));

  ASSERT_TRUE(m_target->remove("renders/2026/a.jpg"));
  EXPECT_FALSE(fs::exists(root() / "renders/2026/a.jpg"));
  EXPECT_TRUE(fs::exists(root() / "renders/2026/b.jpg"));

  ASSERT_TRUE(m_target->remove("renders/2026/b.jpg"));
  EXPECT_FALSE(fs::exists(root() / "renders/2026"));  // left empty: gone
  EXPECT_TRUE(fs::exists(root() / "renders/c.jpg"));  // still holds a file: kept

  ASSERT_TRUE(m_target->remove("renders/c.jpg"));
  EXPECT_FALSE(fs::exists(root() / "renders"));
  EXPECT_TRUE(fs::is_directory(root()));  // the target itself stays

  EXPECT_TRUE(m_target->remove("renders/never-there.jpg").ok());  // already gone is done
}

TEST(LocalTarget, OpeningRemovesTemporariesOfDeadProcessesOnly) {
  TempDir dir;
  const fs::path root = dir.path() / "public";
  // A pid that cannot be alive: above the kernel's maximum.
  write(root / "renders/.a.jpg.tmp-99999999", "half");
  write(root / fmt::format(".index.html.tmp-{}", ::getpid()), "mine");
  write(root / ".hidden.tmp-notapid", "a user's");
  // The user's hidden file makes the folder someone else's: adopted here.
  ASSERT_TRUE(wsp::publish::open_local_target("site", root, wsp::publish::Adopt::yes).ok());
  EXPECT_FALSE(fs::exists(root / "renders/.a.jpg.tmp-99999999"));
  EXPECT_TRUE(fs::exists(root / fmt::format(".index.html.tmp-{}", ::getpid())));
  EXPECT_TRUE(fs::exists(root / ".hidden.tmp-notapid"));
}

TEST(LocalTarget, AFreshFolderIsMarkedAndAForeignOneRefusedUnlessAdopted) {
  using wsp::publish::TargetFolder;
  TempDir dir;
  const fs::path fresh = dir.path() / "fresh", foreign = dir.path() / "foreign";
  EXPECT_EQ(*wsp::publish::inspect_local_target(fresh), TargetFolder::fresh);
  ASSERT_TRUE(wsp::publish::open_local_target("site", fresh).ok());
  EXPECT_TRUE(wsp::publish::is_publish_target(fresh));
  EXPECT_EQ(*wsp::publish::inspect_local_target(fresh), TargetFolder::marked);

  write(foreign / "index.html", "our studio");
  EXPECT_EQ(*wsp::publish::inspect_local_target(foreign), TargetFolder::foreign);
  auto refused = wsp::publish::open_local_target("site", foreign);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("--adopt"), std::string::npos) << refused.message();
  EXPECT_FALSE(wsp::publish::is_publish_target(foreign));
  ASSERT_TRUE(wsp::publish::open_local_target("site", foreign, wsp::publish::Adopt::yes).ok());
  EXPECT_TRUE(wsp::publish::is_publish_target(foreign));
  EXPECT_EQ(read(foreign / "index.html"), "our studio");

  // Any file by the marker's name is not a marker: it must say what it is.
  write(dir.path() / "lookalike" / ".wsportfolio-target.json", "{}");
  EXPECT_FALSE(wsp::publish::is_publish_target(dir.path() / "lookalike"));
}

TEST_F(LocalTargetTest, PutNewNeverOverwritesAFileItDidNotPublish) {
  write(root() / "gallery.css", "body { color: plum }");
  auto put = m_target->put_new("gallery.css", "the gallery's");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.os_error(), EEXIST);
  EXPECT_NE(put.message().find((root() / "gallery.css").string()), std::string::npos) << put.message();
  EXPECT_EQ(read(root() / "gallery.css"), "body { color: plum }");
  // No temporary is left beside it.
  for (const auto& entry : fs::directory_iterator(root()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();

  // The same bytes: a put that landed before its record (a killed publish).
  write(root() / "renders/a.jpg", "landed");
  EXPECT_TRUE(m_target->put_new("renders/a.jpg", "landed").ok());
  // Nothing there: put as usual.
  ASSERT_TRUE(m_target->put_new("renders/b.jpg", "new").ok());
  EXPECT_EQ(read(root() / "renders/b.jpg"), "new");
}

// --- the placeholder --------------------------------------------------------

// Left half warm red, right half cool blue.
std::vector<std::uint8_t> two_halves(int width, int height) {
  std::vector<std::uint8_t> rgb(std::size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      auto* p = &rgb[(std::size_t(y) * width + x) * 3];
      if (x < width / 2) p[0] = 200, p[1] = 60, p[2] = 40;
      else p[0] = 30, p[1] = 80, p[2] = 190;
    }
  return rgb;
}

TEST(BlurHashPlaceholder, DecodingGivesBackTheColoursApproximately) {
  const int width = 32, height = 24;
  auto rgb = two_halves(width, height);
  auto hash = wsp::imaging::blurhash_encode(rgb, width, height, 4, 3);
  ASSERT_EQ(hash.size(), 4u + 2 * 12);
  auto decoded = wsp::imaging::blurhash_decode(hash, width, height);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->size(), rgb.size());
  // Away from the edge between the halves, each pixel is near its colour.
  for (int y = 4; y < height - 4; ++y)
    for (int x : {3, 6, width - 7, width - 4})
      for (int c = 0; c < 3; ++c) {
        auto index = (std::size_t(y) * width + x) * 3 + c;
        EXPECT_NEAR((*decoded)[index], rgb[index], 45) << "x " << x << " y " << y << " channel " << c;
      }
  // The left is redder than the right, and the right bluer than the left.
  auto at = [&](int x, int c) { return (*decoded)[(std::size_t(12) * width + x) * 3 + c]; };
  EXPECT_GT(at(4, 0), at(width - 5, 0) + 80);
  EXPECT_GT(at(width - 5, 2), at(4, 2) + 80);
}

TEST(BlurHashPlaceholder, AverageColourIsTheDcComponent) {
  std::vector<std::uint8_t> grey(16 * 16 * 3, 128);
  auto hash = wsp::imaging::blurhash_encode(grey, 16, 16, 4, 3);
  EXPECT_EQ(wsp::imaging::blurhash_average_colour(hash), "#808080");
  auto halves = wsp::imaging::blurhash_encode(two_halves(32, 24), 32, 24, 4, 3);
  auto average = wsp::imaging::blurhash_average_colour(halves);
  ASSERT_EQ(average.size(), 7u);
  // The linear-light mean of the two halves, red and blue both well present.
  const int red = std::stoi(average.substr(1, 2), nullptr, 16), blue = std::stoi(average.substr(5, 2), nullptr, 16);
  EXPECT_GT(red, 100);
  EXPECT_GT(blue, 100);
  EXPECT_EQ(wsp::imaging::blurhash_average_colour("not a hash"), "");
  EXPECT_FALSE(wsp::imaging::blurhash_decode("LKO2?U%2Tw=w", 32, 32));  // wrong length for its size flag
}

// Base64 back to bytes, for libvips' loader to read the PNG from a file.
std::string base64_decode(std::string_view text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  int value = 0, bits = -8;
  for (char c : text) {
    if (c == '=') break;
    value = (value << 6) + static_cast<int>(alphabet.find(c));
    bits += 6;
    if (bits >= 0) {
      bytes.push_back(static_cast<char>((value >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return bytes;
}

TEST(BlurHashPlaceholder, DataUriIsASmallPngOfTheImagesShape) {
  wsp::imaging::start_imaging();
  auto hash = wsp::imaging::blurhash_encode(two_halves(32, 24), 32, 24, 4, 3);
  auto uri = wsp::imaging::blurhash_data_uri(hash, 4000, 3000);
  const std::string prefix = "data:image/png;base64,";
  ASSERT_EQ(uri.rfind(prefix, 0), 0u) << uri.substr(0, 40);
  EXPECT_LT(uri.size(), 1200u);  // inline in the page: it must stay tiny
  // Decode the PNG back with libvips' loader: 16 wide, 12 high (4000 x 3000
  // scaled), left half red, and the same pixels as the hash decodes to.
  TempDir dir;
  const auto png = dir.path() / "p.png";
  write(png, base64_decode(uri.substr(prefix.size())));
  auto image = vips::VImage::new_from_file(png.c_str(), vips::VImage::option()->set("fail_on", VIPS_FAIL_ON_WARNING));
  ASSERT_EQ(image.width(), 16);
  ASSERT_EQ(image.height(), 12);
  ASSERT_EQ(image.bands(), 3);
  EXPECT_GT(image.getpoint(2, 6)[0], image.getpoint(13, 6)[0] + 80);
  auto expected = wsp::imaging::blurhash_decode(hash, 16, 12);
  ASSERT_TRUE(expected);
  std::size_t length = 0;
  auto* memory = static_cast<std::uint8_t*>(image.write_to_memory(&length));
  EXPECT_TRUE(std::equal(expected->begin(), expected->end(), memory, memory + length)) << "pixels changed on the way";
  g_free(memory);
  // A larger placeholder spans more than one stored deflate block (65,535 bytes each).
  const std::string big = wsp::imaging::blurhash_data_uri(hash, 1, 1, 256);
  ASSERT_FALSE(big.empty());
  write(png, base64_decode(big.substr(prefix.size())));
  auto big_image = vips::VImage::new_from_file(png.c_str(), vips::VImage::option()->set("fail_on", VIPS_FAIL_ON_WARNING));
  EXPECT_EQ(big_image.width(), 256);
  EXPECT_EQ(big_image.height(), 256);
  EXPECT_GT(big_image.getpoint(20, 128)[0], big_image.getpoint(235, 128)[0] + 80);
  EXPECT_EQ(wsp::imaging::blurhash_data_uri("bad", 10, 10), "");
}

// --- the embedded template --------------------------------------------------

TEST(DefaultGalleryTemplate, IsEveryFileOfTheDefaultFolderByteForByte) {
  auto folder = wsp::publish::load_gallery_template(fs::path(WSP_SOURCE_DIR) / "configs/gallery/default");
  ASSERT_TRUE(folder.ok()) << folder.message();
  const auto& embedded = wsp::publish::default_gallery_template();
  EXPECT_EQ(embedded.origin, "default");
  EXPECT_EQ(embedded.files, folder->files);
  EXPECT_TRUE(embedded.files.contains("index.html"));
  EXPECT_TRUE(embedded.files.contains("picture.html"));
}

}  // namespace
