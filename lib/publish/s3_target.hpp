#pragma once
// The S3 target: a bucket (and a prefix in it) of any S3-compatible store. The
// tool's record of what it published there is the only list it ever reads: a
// publish sends no LIST request, and it never deletes a key it did not put.

#include <memory>
#include <string>
#include <string_view>

#include "net/http.hpp"
#include "net/s3.hpp"
#include "publish/target.hpp"
#include "util/result.hpp"

namespace wsp::publish {

struct S3TargetSettings {
  std::string name;
  net::S3Location location;
  net::CredentialSource credentials;
  std::string prefix;  // "anna-ben-2026/"; normalised by s3_prefix
  int max_age = 300;   // seconds, for what is not content-hashed
};

// "anna-ben-2026" and "/anna-ben-2026/" -> "anna-ben-2026/"; "" and "/" -> "".
std::string s3_prefix(std::string_view prefix);

// What a visitor's browser is told the file is: pages are "text/html; charset=utf-8".
std::string content_type_of(std::string_view path);

// A content-hashed file never changes under its name: cached for a year,
// immutable. Anything else (pages, the manifest, styles) for `max_age` seconds.
std::string cache_control_of(std::string_view path, int max_age);

// The identity of an S3 target in the catalog: where it points, never its
// credentials. "s3:https://s3.eu-west-3.amazonaws.com/portfolios/anna-ben-2026/".
std::string s3_identity(const net::S3Location& location, std::string_view prefix);

// Opens a target that sends its requests through `http`, which must outlive it.
// Fails when no credentials are found.
util::Result<std::unique_ptr<PublishTarget>> open_s3_target(net::HttpClient& http, S3TargetSettings settings);

}  // namespace wsp::publish
