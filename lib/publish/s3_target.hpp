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

// One acknowledged part of a multipart upload.
struct UploadPart {
  int number = 0;
  std::string etag;             // the part's MD5, hex
  std::string checksum_sha256;  // base64
  std::int64_t size = 0;
};

// A multipart upload begun on the target and not finished.
struct UploadRecord {
  std::string path;
  std::string sha256;  // of the whole file
  std::string upload_id;
  std::int64_t part_size = 0;
  std::vector<UploadPart> parts;
};

// Where the target writes down its multipart uploads as they go (the
// catalog, through pipeline), so that a killed publish resumes at the next
// part. Called from any thread, one call at a time.
class UploadJournal {
public:
  virtual ~UploadJournal() = default;
  virtual std::vector<UploadRecord> uploads() = 0;
  virtual void begun(const UploadRecord& upload) = 0;
  virtual void part_done(const std::string& upload_id, const UploadPart& part) = 0;
  virtual void ended(const std::string& upload_id) = 0;
};

struct S3TargetSettings {
  std::string name;
  net::S3Location location;
  net::CredentialSource credentials;
  std::string prefix;  // "anna-ben-2026/"; normalised by s3_prefix
  int max_age = 300;   // seconds, for what is not content-hashed
  // Files of at least this many bytes go up in parts of part_size (at least
  // S3's 5 MiB), up to concurrency() parts at once.
  std::int64_t multipart_threshold = std::int64_t{16} << 20;
  std::int64_t part_size = std::int64_t{8} << 20;
  UploadJournal* journal = nullptr;  // must outlive the target; none: uploads are not resumable
};

// How many parts a file of `size` bytes goes up in, at `part_size`.
std::int64_t part_count(std::int64_t size, std::int64_t part_size);

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
