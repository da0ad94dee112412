#pragma once
// Secrets never leave the process: every URL, header and message the network
// layer puts into a log line, an error or an event goes through here first.

#include "net/header.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace wsp::net {

inline constexpr std::string_view k_redacted = "[REDACTED]";

// Headers whose value is a credential: Authorization, Proxy-Authorization,
// Cookie, X-Amz-Security-Token, Fastly-Key, X-Api-Key and the like.
bool is_secret_header(std::string_view name);
// Query parameters whose value is a credential: X-Amz-Signature,
// X-Amz-Credential, X-Amz-Security-Token, key, api_key, access_token, token...
bool is_secret_query_param(std::string_view name);

// The URL with the password of its user info and the values of secret query
// parameters replaced by k_redacted.
std::string redact_url(std::string_view url);
// "Name: value", the value replaced when the header is a secret one.
std::string redact_header(const Header& header);

// Scrubs free text (a server's error message, libcurl's error buffer): every
// secret it was told about, then whatever still looks like a credential
// ("Authorization: ...", "X-Amz-Signature=...", "Bearer ...").
class Redactor {
public:
  Redactor() = default;
  // Collects the secrets of a request: its secret headers and query parameters.
  Redactor(std::string_view url, const Headers& headers);

  void add_secret(std::string_view value);
  std::string operator()(std::string_view text) const;

private:
  std::vector<std::string> m_secrets;
};

}  // namespace wsp::net
