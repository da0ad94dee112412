#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace wsp::util {

// Lower-case hex SHA-256 (OpenSSL EVP, so SHA-NI is used where the CPU has it).
std::string sha256_hex(std::span<const std::uint8_t> bytes);
std::string sha256_hex(std::string_view text);

// SHA-256 of bytes given piece by piece, as a file is read in a small buffer.
class Sha256Stream {
public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void add(std::span<const std::uint8_t> bytes);
  // The digest of everything added, in lower-case hex; the stream is then spent.
  std::string hex();

private:
  ::evp_md_ctx_st* m_context;
};

// The raw 32-byte HMAC-SHA-256 of `data` under `key` (SigV4, webhook signatures).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace wsp::util
