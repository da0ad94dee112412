#include "net/sigv4.hpp"

#include "util/hash.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <stdexcept>
#include <vector>

namespace wsp::net {

namespace {

constexpr std::string_view k_algorithm = "AWS4-HMAC-SHA256";

std::string to_hex(std::string_view bytes) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    hex.push_back(k_hex[byte >> 4]);
    hex.push_back(k_hex[byte & 0xF]);
  }
  return hex;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Leading and trailing blanks dropped, each run of blanks inside made one space.
std::string trimmed_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool has_header(const Headers& headers, std::string_view lower_name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const Header& header) { return lower(header.name) == lower_name; });
}

struct CanonicalHeaders {
  std::string block;   // "name:value\n" per header
  std::string signed_names;  // "host;x-amz-date"
};

CanonicalHeaders canonical_headers(const Headers& headers) {
  // Values of a repeated header are joined in the order they appear, as AWS does.
  std::map<std::string, std::string> by_name;
  for (const auto& header : headers) {
    auto [it, inserted] = by_name.try_emplace(lower(header.name), trimmed_value(header.value));
    if (!inserted) it->second += "," + trimmed_value(header.value);
  }
  CanonicalHeaders out;
  for (const auto& [name, value] : by_name) {
    out.block += name + ":" + value + "\n";
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += name;
  }
  return out;
}

std::string canonical_query(const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& param : query) encoded.emplace_back(uri_encode(param.name, false), uri_encode(param.value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string credential_scope(const SigningScope& scope) {
  return amz_date(scope.time).substr(0, 8) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

// Fills in the canonical request, the string to sign and the signature.
void sign(SignedRequest& out, const SigningRequest& request, const QueryParams& query, const Headers& headers,
          const SigningScope& scope) {
  auto canonical = canonical_headers(headers);
  out.canonical_request = request.method + "\n" + canonical_path(request.path, scope.normalize_path) + "\n" +
                          canonical_query(query) + "\n" + canonical.block + "\n" + canonical.signed_names + "\n" +
                          request.payload_hash;
  std::string date = amz_date(scope.time);
  out.string_to_sign = std::string(k_algorithm) + "\n" + date + "\n" + credential_scope(scope) + "\n" +
                       util::sha256_hex(out.canonical_request);
  std::string key = util::hmac_sha256("AWS4" + scope.credentials.secret_access_key, date.substr(0, 8));
  key = util::hmac_sha256(key, scope.region);
  key = util::hmac_sha256(key, scope.service);
  key = util::hmac_sha256(key, "aws4_request");
  out.signature = to_hex(util::hmac_sha256(key, out.string_to_sign));
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xF]);
    }
  }
  return out;
}

std::string uri_decode(std::string_view text) {
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string encode_path(std::string_view path) { return uri_encode(path, true); }

std::string canonical_path(std::string_view path, bool normalize) {
  if (!normalize) return encode_path(path.empty() ? "/" : path);
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string normalized;
  for (auto segment : segments) normalized += "/" + std::string(segment);
  bool trailing_slash = !path.empty() && path.back() == '/';
  if (normalized.empty() || trailing_slash) normalized += '/';
  return encode_path(normalized);
}

std::string encode_query(const QueryParams& query) {
  std::string out;
  for (const auto& param : query) {
    if (!out.empty()) out += '&';
    out += uri_encode(param.name, false) + "=" + uri_encode(param.value, false);
  }
  return out;
}

std::string amz_date(std::chrono::sys_seconds time) {
  std::time_t seconds = time.time_since_epoch().count();
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}


SignedRequest sign_with_header(const SigningRequest& request, const SigningScope& scope) {
  SignedRequest out;
  const auto& token = scope.credentials.session_token;
  if (!token.empty()) out.added_headers.push_back({"X-Amz-Security-Token", token});
  out.added_headers.push_back({"X-Amz-Date", amz_date(scope.time)});
  if (scope.content_sha256_header && !has_header(request.headers, "x-amz-content-sha256"))
    out.added_headers.push_back({"x-amz-content-sha256", request.payload_hash});

  Headers signed_headers = request.headers;
  for (const auto& header : out.added_headers)
    if (header.name != "X-Amz-Security-Token" || !scope.omit_session_token) signed_headers.push_back(header);
  sign(out, request, request.query, signed_headers, scope);

  out.added_headers.push_back({"Authorization", std::string(k_algorithm) + " Credential=" +
                                                    scope.credentials.access_key_id + "/" + credential_scope(scope) +
                                                    ", SignedHeaders=" + canonical_headers(signed_headers).signed_names +
                                                    ", Signature=" + out.signature});
  return out;
}

SignedRequest sign_with_query(const SigningRequest& request, const SigningScope& scope) {
  SignedRequest out;
  const auto& token = scope.credentials.session_token;
  out.added_query = {
      {"X-Amz-Algorithm", std::string(k_algorithm)},
      {"X-Amz-Credential", scope.credentials.access_key_id + "/" + credential_scope(scope)},
      {"X-Amz-Date", amz_date(scope.time)},
      {"X-Amz-SignedHeaders", canonical_headers(request.headers).signed_names},
      {"X-Amz-Expires", std::to_string(scope.expires.count())},
  };
  QueryParams signed_query = request.query;
  signed_query.insert(signed_query.end(), out.added_query.begin(), out.added_query.end());
  if (!token.empty()) {
    out.added_query.push_back({"X-Amz-Security-Token", token});
    if (!scope.omit_session_token) signed_query.push_back(out.added_query.back());
  }
  sign(out, request, signed_query, request.headers, scope);
  out.added_query.push_back({"X-Amz-Signature", out.signature});
  return out;
}

}  // namespace wsp::net
