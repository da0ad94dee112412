#pragma once
// AWS Signature Version 4, as a pure function of the request, the credentials
// and the time: no I/O, no clock, so that the AWS test suite and S3's own
// examples can check it byte for byte.

#include "net/header.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace wsp::net {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS); empty otherwise
};

// The payload hash S3 accepts when the body is not hashed (streamed uploads, presigned URLs).
inline constexpr std::string_view k_unsigned_payload = "UNSIGNED-PAYLOAD";

struct SigningScope {
  AwsCredentials credentials;
  std::string region;   // "us-east-1"; R2 wants "auto"
  std::string service;  // "s3"
  std::chrono::sys_seconds time;
  // Generic AWS services sign the path with dot segments and empty segments
  // removed; S3 signs the key exactly as written (a key may be "a//./b").
  bool normalize_path = false;
  // S3 wants x-amz-content-sha256 on every request (header form).
  bool content_sha256_header = true;
  // A few services want the session token sent but left out of the signature.
  bool omit_session_token = false;
  std::chrono::seconds expires{3600};  // presigned URLs only
};

// What is signed. `path` is the decoded path ("/bucket/Mariée 01.jpg"): the signer
// encodes it, so the request must be sent with `encode_path(path)` as its path.
struct SigningRequest {
  std::string method;
  std::string path;
  QueryParams query;  // decoded
  Headers headers;    // every header to sign, "host" among them
  // Hex SHA-256 of the body, or k_unsigned_payload.
  std::string payload_hash;
};

struct SignedRequest {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lower-case hex
  // Header form: the headers to add to the request (X-Amz-Security-Token,
  // X-Amz-Date, x-amz-content-sha256, Authorization), in that order.
  Headers added_headers;
  // Query form: the parameters to append to the query, in the order AWS writes them.
  QueryParams added_query;
};

// Signs with an Authorization header.
SignedRequest sign_with_header(const SigningRequest& request, const SigningScope& scope);
// Presigns: the signature travels in the query (X-Amz-Signature).
SignedRequest sign_with_query(const SigningRequest& request, const SigningScope& scope);

// RFC 3986 encoding as SigV4 wants it: unreserved bytes (A-Z a-z 0-9 - . _ ~)
// kept, every other byte %XX in upper case; '/' kept only when asked.
std::string uri_encode(std::string_view text, bool keep_slash);
// The inverse, for keys S3 lists URL-encoded; a malformed escape is kept as written.
std::string uri_decode(std::string_view text);
// The path as sent and signed: each segment encoded once, slashes kept.
std::string encode_path(std::string_view path);
// The canonical path: `encode_path`, after removing dot and empty segments when asked.
std::string canonical_path(std::string_view path, bool normalize);
// A query string in the given order, each name and value encoded.
std::string encode_query(const QueryParams& query);

// "20150830T123600Z"
std::string amz_date(std::chrono::sys_seconds time);
}  // namespace wsp::net
