#include "net/body.hpp"
#include "net/s3.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "temp_dir.hpp"

namespace {

using namespace wsp::net;

std::string noise(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

std::string read_all(const BodySource& body, std::size_t chunk) {
  std::string out;
  std::string buffer(chunk, '\0');
  for (;;) {
    auto got = body.read(buffer.data(), buffer.size(), static_cast<std::int64_t>(out.size()));
    EXPECT_TRUE(got.ok()) << got.message();
    if (!got.ok() || *got == 0) return out;
    out.append(buffer.data(), *got);
  }
}

// Parts of a file as pread gives them hash as the same bytes held in memory,
// whatever the buffer sizes; the last part is the short one.
TEST(NetBody, FilePartsHashAsTheirBytes) {
  wsp::testing::TempDir dir;
  const std::string bytes = noise((std::size_t{5} << 20) * 2 + 12345, 7);
  const auto path = dir.path() / "first-dance.bin";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  auto file = FileBody::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  std::shared_ptr<const BodySource> body = *file;
  ASSERT_EQ(body->size(), static_cast<std::int64_t>(bytes.size()));
  EXPECT_EQ(read_all(*body, 70'001), bytes);

  const std::int64_t part_size = std::int64_t{5} << 20;
  auto digests = digest_in_parts(*body, part_size);
  ASSERT_TRUE(digests.ok()) << digests.message();
  ASSERT_EQ(digests->parts.size(), 3u);
  EXPECT_EQ(digests->whole.md5_hex, md5_hex(bytes));
  EXPECT_EQ(digests->whole.sha256_base64, sha256_base64(bytes));
  for (std::size_t i = 0; i < 3; ++i) {
    const auto slice = bytes.substr(i * static_cast<std::size_t>(part_size), static_cast<std::size_t>(part_size));
    const auto expected = digests_of(slice);
    EXPECT_EQ(digests->parts[i].md5_hex, expected.md5_hex) << "part " << i + 1;
    EXPECT_EQ(digests->parts[i].md5_base64, expected.md5_base64);
    EXPECT_EQ(digests->parts[i].sha256_hex, expected.sha256_hex);
    EXPECT_EQ(digests->parts[i].size, static_cast<std::int64_t>(slice.size()));
    BodySlice part(body, static_cast<std::int64_t>(i) * part_size, static_cast<std::int64_t>(slice.size()));
    EXPECT_EQ(read_all(part, 65'536), slice) << "part " << i + 1;
  }
}

// A file cut short after it was opened is an error, never a short body sent as whole.
TEST(NetBody, FileCutShortIsAnError) {
  wsp::testing::TempDir dir;
  const auto path = dir.path() / "vows.bin";
  const std::string bytes = noise(300'000, 3);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto file = FileBody::open(path);
  ASSERT_TRUE(file.ok());
  std::filesystem::resize_file(path, 100'000);
  auto digests = digest_in_parts(**file, 1 << 20);
  ASSERT_FALSE(digests.ok());
  EXPECT_NE(digests.message().find("vows.bin"), std::string::npos) << digests.message();
  EXPECT_FALSE(FileBody::open(dir.path() / "missing.bin").ok());
}

}  // namespace
