#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsp::util {

// Lower-case hex SHA-256 (OpenSSL EVP, so SHA-NI is used where the CPU has it).
std::string sha256_hex(std::span<const std::uint8_t> bytes);
std::string sha256_hex(std::string_view text);

// The raw 32-byte HMAC-SHA-256 of `data` under `key` (SigV4, webhook signatures).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace wsp::util
