#include "net/redact.hpp"

#include "net/sigv4.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <regex>

namespace wsp::net {

namespace {

constexpr std::array k_secret_headers{"authorization", "proxy-authorization", "cookie",        "set-cookie",
                                      "x-amz-security-token", "fastly-key", "x-api-key",     "api-key",
                                      "x-auth-token",         "x-goog-api-key"};

constexpr std::array k_secret_params{"x-amz-signature", "x-amz-credential", "x-amz-security-token",
                                     "x-goog-signature", "x-goog-credential", "signature",
                                     "sig",               "key",               "api_key",
                                     "apikey",            "api-key",           "access_token",
                                     "token",             "auth",              "password",
                                     "secret",            "client_secret"};

// What still looks like a credential in free text, whoever wrote it.
const std::vector<std::pair<std::regex, std::string>>& patterns() {
  static const std::vector<std::pair<std::regex, std::string>> k_patterns = [] {
    auto flags = std::regex::ECMAScript | std::regex::icase;
    std::string headers = "authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|fastly-key|"
                          "x-api-key|api-key|x-auth-token|x-goog-api-key";
    std::string params = "x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
                         "x-goog-credential|signature|sig|key|api_key|apikey|api-key|access_token|token|auth|"
                         "password|secret|client_secret";
    return std::vector<std::pair<std::regex, std::string>>{
        {std::regex("(^|[\\s\"'{,])(" + headers + ")(\"?\\s*:\\s*)[^\\r\\n]*", flags), "$1$2$3[REDACTED]"},
        {std::regex("(^|[?&;,\\s\"'])(" + params + ")=[^&\\s\"'<>,]*", flags), "$1$2=[REDACTED]"},
        {std::regex("\\b(Bearer|Basic)\\s+[A-Za-z0-9._~+/=-]+", flags), "$1 [REDACTED]"},
    };
  }();
  return k_patterns;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

}  // namespace

bool is_secret_header(std::string_view name) {
  auto wanted = util::ascii_lower(name);
  return std::find(k_secret_headers.begin(), k_secret_headers.end(), wanted) != k_secret_headers.end();
}

bool is_secret_query_param(std::string_view name) {
  auto wanted = util::ascii_lower(uri_decode(name));
  return std::find(k_secret_params.begin(), k_secret_params.end(), wanted) != k_secret_params.end();
}

std::string redact_url(std::string_view url) {
  std::string out;
  std::size_t scheme_end = url.find("://");
  std::size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  out += url.substr(0, authority_start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = authority.substr(0, at);
    auto colon = user_info.find(':');
    out += user_info.substr(0, colon);
    if (colon != std::string_view::npos) out += ":" + std::string(k_redacted);
    out += authority.substr(at);
  } else {
    out += authority;
  }

  std::string_view rest = url.substr(authority_end);
  auto question = rest.find('?');
  if (question == std::string_view::npos) return out + std::string(rest);
  auto hash = rest.find('#', question);
  out += rest.substr(0, question + 1);
  std::string_view query = rest.substr(question + 1, hash == std::string_view::npos ? rest.npos : hash - question - 1);
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    auto equals = pair.find('=');
    if (equals != std::string_view::npos && is_secret_query_param(pair.substr(0, equals)))
      out += std::string(pair.substr(0, equals + 1)) + std::string(k_redacted);
    else
      out += pair;
    if (end < query.size()) out += '&';
    start = end + 1;
  }
  // A fragment never carries a credential the server sees, but it may carry one (OAuth implicit flow).
  if (hash != std::string_view::npos) out += "#" + std::string(k_redacted);
  return out;
}

std::string redact_header(const Header& header) {
  return header.name + ": " + (is_secret_header(header.name) ? std::string(k_redacted) : header.value);
}

Redactor::Redactor(std::string_view url, const Headers& headers) {
  for (const auto& header : headers) {
    if (!is_secret_header(header.name)) continue;
    add_secret(header.value);
    // "Bearer <token>": the token alone may be echoed back.
    if (auto space = header.value.find(' '); space != std::string::npos) add_secret(header.value.substr(space + 1));
    for (std::string_view part : {"Signature=", "Credential="}) {
      auto at = header.value.find(part);
      if (at == std::string::npos) continue;
      auto start = at + part.size();
      add_secret(header.value.substr(start, header.value.find_first_of(", ", start) - start));
    }
  }
  if (auto user_end = url.find('@'); user_end != std::string_view::npos) {
    auto scheme_end = url.find("://");
    auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    auto user_info = url.substr(start, user_end - start);
    if (user_info.find('/') == std::string_view::npos)
      if (auto colon = user_info.find(':'); colon != std::string_view::npos) add_secret(user_info.substr(colon + 1));
  }
  if (auto question = url.find('?'); question != std::string_view::npos) {
    std::string_view query = url.substr(question + 1, url.find('#', question) - question - 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      std::size_t end = std::min(query.find('&', start), query.size());
      std::string_view pair = query.substr(start, end - start);
      auto equals = pair.find('=');
      if (equals != std::string_view::npos && is_secret_query_param(pair.substr(0, equals))) {
        add_secret(pair.substr(equals + 1));
        add_secret(uri_decode(pair.substr(equals + 1)));
      }
      start = end + 1;
    }
  }
}

void Redactor::add_secret(std::string_view value) {
  // Shorter values would blank ordinary words; a credential is never that short.
  if (value.size() < 4) return;
  for (std::string form : {std::string(value), uri_encode(value, false)})
    if (std::find(m_secrets.begin(), m_secrets.end(), form) == m_secrets.end()) m_secrets.push_back(form);
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(m_secrets.begin(), m_secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string Redactor::operator()(std::string_view text) const {
  std::string out(text);
  for (const auto& secret : m_secrets) replace_all(out, secret, k_redacted);
  for (const auto& [pattern, replacement] : patterns()) out = std::regex_replace(out, pattern, replacement);
  return out;
}

}  // namespace wsp::net
