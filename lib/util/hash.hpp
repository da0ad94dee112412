#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsp::util {

// Lower-case hex SHA-256 (OpenSSL EVP, so SHA-NI is used where the CPU has it).
std::string sha256_hex(std::span<const std::uint8_t> bytes);
std::string sha256_hex(std::string_view text);

}  // namespace wsp::util
