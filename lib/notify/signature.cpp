#include "notify/signature.hpp"
#include "util/hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fmt/format.h>

#include <stdexcept>

namespace wsp::notify {

namespace {

constexpr std::string_view k_prefix = "whsec_";

std::string signed_content(std::string_view id, std::int64_t timestamp, std::string_view body) {
  return fmt::format("{}.{}.{}", id, timestamp, body);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

util::Result<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return util::Error{"not base64 (length)"};
  std::string out(3 * text.size() / 4, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (written < 0) return util::Error{"not base64"};
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(written);
  if (text.ends_with("==")) size -= 2;
  else if (text.ends_with('=')) size -= 1;
  out.resize(size);
  return out;
}

util::Result<std::string> secret_key(std::string_view secret) {
  if (secret.starts_with(k_prefix)) secret.remove_prefix(k_prefix.size());
  auto key = base64_decode(secret);
  if (!key) return util::Error{"webhook secret is not a whsec_ base64 key"};
  if (key->empty()) return util::Error{"webhook secret is empty"};
  return key;
}

util::Result<std::string> sign(std::string_view id, std::int64_t timestamp, std::string_view body,
                               const std::vector<std::string>& secrets) {
  if (secrets.empty()) return util::Error{"no webhook secret to sign with"};
  const auto content = signed_content(id, timestamp, body);
  std::string header;
  for (const auto& secret : secrets) {
    auto key = secret_key(secret);
    if (!key) return key.error();
    if (!header.empty()) header.push_back(' ');
    header += "v1," + base64_encode(util::hmac_sha256(*key, content));
  }
  return header;
}

bool verify(std::string_view id, std::int64_t timestamp, std::string_view body, std::string_view signature_header,
            const std::vector<std::string>& secrets, std::int64_t now, std::int64_t tolerance_seconds) {
  if (timestamp < now - tolerance_seconds || timestamp > now + tolerance_seconds) return false;
  const auto content = signed_content(id, timestamp, body);
  std::vector<std::string> expected;
  for (const auto& secret : secrets) {
    auto key = secret_key(secret);
    if (key) expected.push_back(base64_encode(util::hmac_sha256(*key, content)));
  }
  std::size_t start = 0;
  while (start < signature_header.size()) {
    auto end = signature_header.find(' ', start);
    if (end == std::string_view::npos) end = signature_header.size();
    auto part = signature_header.substr(start, end - start);
    start = end + 1;
    if (!part.starts_with("v1,")) continue;
    part.remove_prefix(3);
    for (const auto& candidate : expected)
      if (candidate.size() == part.size() && CRYPTO_memcmp(candidate.data(), part.data(), part.size()) == 0) return true;
  }
  return false;
}

std::string github_signature(std::string_view secret, std::string_view body) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string hex = "sha256=";
  for (unsigned char c : util::hmac_sha256(secret, body)) {
    hex.push_back(k_hex[c >> 4]);
    hex.push_back(k_hex[c & 15]);
  }
  return hex;
}

}  // namespace wsp::notify
