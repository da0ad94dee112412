#pragma once
// Standard Webhooks signatures (standardwebhooks.com) as pure functions: the
// sender signs `id.timestamp.body` with HMAC-SHA256 under each of the
// endpoint's secrets, so that a receiver rotating its secret accepts either;
// the receiver's check is here too, for `webhooks test` and the tests.

#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsp::notify {

// The raw key of a `whsec_<base64>` secret (the prefix is optional, as in the
// reference libraries). An error never quotes the secret.
util::Result<std::string> secret_key(std::string_view secret);

// "v1,<base64>" for each secret, space-separated, in the order given.
util::Result<std::string> sign(std::string_view id, std::int64_t timestamp, std::string_view body,
                               const std::vector<std::string>& secrets);

// Whether any "v1,..." signature in `signature_header` matches one of the
// secrets, and the timestamp lies within `tolerance_seconds` of `now`.
bool verify(std::string_view id, std::int64_t timestamp, std::string_view body, std::string_view signature_header,
            const std::vector<std::string>& secrets, std::int64_t now, std::int64_t tolerance_seconds = 300);

// GitHub's form, for receivers that expect it: "sha256=<hex HMAC-SHA256 of the body>".
std::string github_signature(std::string_view secret, std::string_view body);

std::string base64_encode(std::string_view bytes);
util::Result<std::string> base64_decode(std::string_view text);

}  // namespace wsp::notify
