#include "util/hash.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace wsp::util {

namespace {

std::string hex_of(const unsigned char* digest, unsigned int length) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(k_hex[digest[i] >> 4]);
    hex.push_back(k_hex[digest[i] & 0xF]);
  }
  return hex;
}

}  // namespace

std::string sha256_hex(std::span<const std::uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed in libcrypto");
  return hex_of(digest, length);
}

Sha256Stream::Sha256Stream() : m_context(EVP_MD_CTX_new()) {
  if (!m_context || EVP_DigestInit_ex(m_context, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(m_context);
    throw std::runtime_error("SHA-256 failed in libcrypto");
  }
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(m_context); }

void Sha256Stream::add(std::span<const std::uint8_t> bytes) {
  if (EVP_DigestUpdate(m_context, bytes.data(), bytes.size()) != 1)
    throw std::runtime_error("SHA-256 failed in libcrypto");
}

std::string Sha256Stream::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(m_context, digest, &length) != 1) throw std::runtime_error("SHA-256 failed in libcrypto");
  return hex_of(digest, length);
}

std::string sha256_hex(std::string_view text) {
  return sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), digest, &length))
    throw std::runtime_error("HMAC-SHA-256 failed in libcrypto");
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace wsp::util
