#include "net/body.hpp"

#include "util/files.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace wsp::net {

namespace {

constexpr std::size_t k_hash_buffer = std::size_t{1} << 20;

std::string base64(const unsigned char* bytes, unsigned int length) {
  std::string encoded(4 * ((length + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), bytes, static_cast<int>(length));
  encoded.resize(static_cast<std::size_t>(std::max(written, 0)));
  return encoded;
}

// MD5 and SHA-256 of bytes fed in pieces.
class Hasher {
public:
  Hasher() : m_md5(EVP_MD_CTX_new()), m_sha256(EVP_MD_CTX_new()) {
    if (!m_md5 || !m_sha256 || EVP_DigestInit_ex(m_md5, EVP_md5(), nullptr) != 1 ||
        EVP_DigestInit_ex(m_sha256, EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("libcrypto could not start a digest");
  }
  ~Hasher() {
    EVP_MD_CTX_free(m_md5);
    EVP_MD_CTX_free(m_sha256);
  }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const char* data, std::size_t size) {
    EVP_DigestUpdate(m_md5, data, size);
    EVP_DigestUpdate(m_sha256, data, size);
    m_size += static_cast<std::int64_t>(size);
  }

  BodyDigests finish() {
    unsigned char md5[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
    unsigned int md5_length = 0, sha256_length = 0;
    if (EVP_DigestFinal_ex(m_md5, md5, &md5_length) != 1 || EVP_DigestFinal_ex(m_sha256, sha256, &sha256_length) != 1)
      throw std::runtime_error("libcrypto could not finish a digest");
    BodyDigests out;
    for (unsigned int i = 0; i < md5_length; ++i) out.md5_hex += fmt::format("{:02x}", md5[i]);
    for (unsigned int i = 0; i < sha256_length; ++i) out.sha256_hex += fmt::format("{:02x}", sha256[i]);
    out.md5_base64 = base64(md5, md5_length);
    out.sha256_base64 = base64(sha256, sha256_length);
    out.size = m_size;
    return out;
  }

private:
  EVP_MD_CTX* m_md5;
  EVP_MD_CTX* m_sha256;
  std::int64_t m_size = 0;
};

}  // namespace

util::Result<std::size_t> MemoryBody::read(char* into, std::size_t most, std::int64_t at) const {
  if (at < 0 || at > size()) return util::Error{"a read outside the body"};
  const auto count = std::min(most, m_bytes.size() - static_cast<std::size_t>(at));
  std::memcpy(into, m_bytes.data() + at, count);
  return count;
}

util::Result<std::shared_ptr<FileBody>> FileBody::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return util::Error{fmt::format("{}: cannot open: {}", path.string(), util::last_os_error())};
  struct stat info{};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    auto why = S_ISREG(info.st_mode) ? util::last_os_error() : std::string("not a regular file");
    ::close(fd);
    return util::Error{fmt::format("{}: cannot read: {}", path.string(), why)};
  }
  return std::shared_ptr<FileBody>(new FileBody(path, fd, static_cast<std::int64_t>(info.st_size)));
}

FileBody::~FileBody() { ::close(m_fd); }

util::Result<std::size_t> FileBody::read(char* into, std::size_t most, std::int64_t at) const {
  if (at >= m_size || most == 0) return std::size_t{0};
  most = std::min<std::size_t>(most, static_cast<std::size_t>(m_size - at));
  for (;;) {
    const auto got = ::pread(m_fd, into, most, static_cast<off_t>(at));
    if (got > 0) return static_cast<std::size_t>(got);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) return util::Error{fmt::format("{}: the file got shorter while it was being sent", m_path.string())};
    return util::Error{fmt::format("{}: cannot read: {}", m_path.string(), util::last_os_error())};
  }
}

util::Result<std::size_t> BodySlice::read(char* into, std::size_t most, std::int64_t at) const {
  if (at >= m_length) return std::size_t{0};
  most = std::min<std::size_t>(most, static_cast<std::size_t>(m_length - at));
  return m_whole->read(into, most, m_offset + at);
}

BodyDigests digests_of(std::string_view bytes) {
  Hasher hasher;
  hasher.update(bytes.data(), bytes.size());
  return hasher.finish();
}

util::Result<PartedDigests> digest_in_parts(const BodySource& body, std::int64_t part_size) {
  PartedDigests out;
  Hasher whole;
  std::string buffer(k_hash_buffer, '\0');
  const std::int64_t size = body.size();
  std::int64_t at = 0;
  do {
    Hasher part;
    const std::int64_t end = std::min(size, at + part_size);
    while (at < end) {
      const auto wanted = static_cast<std::size_t>(std::min<std::int64_t>(end - at, static_cast<std::int64_t>(buffer.size())));
      auto got = body.read(buffer.data(), wanted, at);
      if (!got) return got.error();
      if (*got == 0) return util::Error{"the body ended before its size"};
      whole.update(buffer.data(), *got);
      part.update(buffer.data(), *got);
      at += static_cast<std::int64_t>(*got);
    }
    out.parts.push_back(part.finish());
  } while (at < size);
  out.whole = whole.finish();
  return out;
}

}  // namespace wsp::net
