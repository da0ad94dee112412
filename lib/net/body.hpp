#pragma once
// Request bodies too large to hold in memory (a photographer's originals, a
// film): read as libcurl sends them, from their start again at each attempt,
// with the digests S3 wants computed beforehand in one pass of a small buffer.

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace wsp::net {

class BodySource {
public:
  virtual ~BodySource() = default;
  virtual std::int64_t size() const = 0;
  // Up to `most` bytes from `at` into `into`: how many (0 only at the end);
  // fails on a read error or a file that got shorter.
  virtual util::Result<std::size_t> read(char* into, std::size_t most, std::int64_t at) const = 0;
};

// Bytes already in memory.
class MemoryBody final : public BodySource {
public:
  explicit MemoryBody(std::string bytes) : m_bytes(std::move(bytes)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(m_bytes.size()); }
  util::Result<std::size_t> read(char* into, std::size_t most, std::int64_t at) const override;

private:
  std::string m_bytes;
};

// A file, opened once and read with pread, so that many slices of it are
// read at once from one descriptor; nothing of it is kept in memory.
class FileBody final : public BodySource {
public:
  static util::Result<std::shared_ptr<FileBody>> open(const std::filesystem::path& path);
  ~FileBody() override;
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  std::int64_t size() const override { return m_size; }
  util::Result<std::size_t> read(char* into, std::size_t most, std::int64_t at) const override;

private:
  FileBody(std::filesystem::path path, int fd, std::int64_t size) : m_path(std::move(path)), m_fd(fd), m_size(size) {}
  std::filesystem::path m_path;
  int m_fd;
  std::int64_t m_size;
};

// `length` bytes of another body from `offset`: one part of a multipart upload.
class BodySlice final : public BodySource {
public:
  BodySlice(std::shared_ptr<const BodySource> whole, std::int64_t offset, std::int64_t length)
      : m_whole(std::move(whole)), m_offset(offset), m_length(length) {}
  std::int64_t size() const override { return m_length; }
  util::Result<std::size_t> read(char* into, std::size_t most, std::int64_t at) const override;

private:
  std::shared_ptr<const BodySource> m_whole;
  std::int64_t m_offset, m_length;
};

// What S3 is told of a body: Content-MD5 (base64), x-amz-checksum-sha256
// (base64), the signed payload hash (hex), and the MD5 in hex an ETag is.
struct BodyDigests {
  std::string md5_hex, md5_base64, sha256_hex, sha256_base64;
  std::int64_t size = 0;
};

BodyDigests digests_of(std::string_view bytes);

// The whole body's digests and each part's, at `part_size`, in one pass.
struct PartedDigests {
  BodyDigests whole;
  std::vector<BodyDigests> parts;
};
util::Result<PartedDigests> digest_in_parts(const BodySource& body, std::int64_t part_size);

}  // namespace wsp::net
