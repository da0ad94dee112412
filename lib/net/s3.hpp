#pragma once
// An S3 client for any S3-compatible store (AWS, Cloudflare R2, Backblaze B2,
// MinIO, Wasabi): the few calls publishing needs, signed with SigV4 and sent
// through the shared HttpClient, so they get its retries, breakers and redaction.

#include "net/body.hpp"
#include "net/http.hpp"
#include "net/sigv4.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wsp::net {

struct S3Location {
  // "https://s3.eu-west-3.amazonaws.com", "https://<account>.r2.cloudflarestorage.com",
  // "http://127.0.0.1:9000"; empty: AWS's endpoint for the region.
  std::string endpoint;
  std::string region = "us-east-1";  // R2 signs with "auto"
  std::string bucket;
  // Path-style (endpoint/bucket/key) for stores without per-bucket host names;
  // otherwise virtual-hosted (bucket.endpoint/key).
  bool path_style = false;
  std::string ca_file;  // a private CA for this store
};

// Where the keys come from, first found wins: the named variables (the
// target's access_key_env / secret_key_env) or files (access_key_file /
// secret_key_file), then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
// or ~/.aws/credentials) at `profile` (AWS_PROFILE, else "default").
struct CredentialSource {
  std::string access_key_env, secret_key_env, session_token_env;
  std::filesystem::path access_key_file, secret_key_file;
  std::string profile;
};
util::Result<AwsCredentials> load_credentials(const CredentialSource& source);

struct S3Object {
  std::string key;
  std::int64_t size = 0;
  std::string etag;  // without its quotes
  std::string last_modified;
};

struct S3Put {
  std::string key;
  std::string body;
  std::string content_type;   // "image/webp"
  std::string cache_control;  // "public, max-age=31536000, immutable" for content-hashed names
  // Sent instead of `body` when set, with its digests computed beforehand.
  std::shared_ptr<const BodySource> source = nullptr;
  BodyDigests digests = {};
};

// One part of a multipart upload, as the store acknowledged it.
struct S3Part {
  int number = 0;
  std::string etag;             // without its quotes: the part's MD5 in hex
  std::string checksum_sha256;  // base64; empty when the store does not say
  std::int64_t size = 0;
};

// What ListParts found of an upload.
struct S3PartListing {
  enum class Outcome { listed, no_such_upload, not_supported } outcome = Outcome::listed;
  std::vector<S3Part> parts;
};

// A multipart upload begun and neither completed nor aborted.
struct S3Upload {
  std::string key;
  std::string upload_id;
  std::string initiated;  // as the store writes it (ISO 8601)
};

// What ListMultipartUploads found; `supported` is false on a store without it.
struct S3UploadListing {
  bool supported = true;
  std::vector<S3Upload> uploads;
};

// The ETag S3 gives an object assembled from parts: the MD5 of the parts'
// binary MD5s, then "-" and the number of parts. `part_md5s` are hex.
std::string composite_etag(const std::vector<std::string>& part_md5s);

// The MD5 and SHA-256 of bytes as S3 headers write them: hex and base64.
std::string md5_hex(std::string_view bytes);
std::string sha256_base64(std::string_view bytes);

struct S3DeleteReport {
  std::vector<std::string> deleted;
  std::vector<std::string> errors;  // "key: Code: Message"
};

class S3Client {
public:
  S3Client(HttpClient& http, S3Location location, AwsCredentials credentials,
           SystemClock clock = real_system_clock());

  // Uploads with Content-MD5 and x-amz-checksum-sha256, so that the store
  // refuses a body damaged on the way; gives the ETag. `done` runs on the HTTP
  // client's thread.
  void put_object(S3Put put, std::function<void(util::Result<std::string>)> done);
  util::Result<std::string> put_object(S3Put put);
  // A multipart upload of `key` (CreateMultipartUpload), whose parts carry
  // SHA-256 checksums; gives the UploadId.
  util::Result<std::string> create_multipart_upload(const std::string& key, const std::string& content_type,
                                                    const std::string& cache_control);
  // Uploads one part with Content-MD5 and x-amz-checksum-sha256; `done` gets
  // the acknowledged part, on the HTTP client's thread.
  void upload_part(const std::string& key, const std::string& upload_id, int number, std::string body,
                   std::function<void(util::Result<S3Part>)> done);
  // The same for a part read as it is sent, whose digests were computed beforehand.
  void upload_part(const std::string& key, const std::string& upload_id, int number,
                   std::shared_ptr<const BodySource> body, const BodyDigests& digests,
                   std::function<void(util::Result<S3Part>)> done);
  // The parts the store holds for the upload, every page of them.
  util::Result<S3PartListing> list_parts(const std::string& key, const std::string& upload_id);
  // Assembles the parts (in number order); gives the object's ETag.
  util::Result<std::string> complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                                      const std::vector<S3Part>& parts);
  void complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                 const std::vector<S3Part>& parts,
                                 std::function<void(util::Result<std::string>)> done);
  // Success too when the store no longer knows the upload.
  util::Status abort_multipart_upload(const std::string& key, const std::string& upload_id);

  // Nothing when the object does not exist.
  util::Result<std::optional<S3Object>> head_object(const std::string& key);
  // Every object under `prefix`, page by page (ListObjectsV2).
  util::Result<std::vector<S3Object>> list_objects(const std::string& prefix, int page_size = 1000);
  // Every multipart upload in progress under `prefix`, page by page (ListMultipartUploads).
  util::Result<S3UploadListing> list_multipart_uploads(const std::string& prefix, int page_size = 1000);
  // Batches of at most 1000 keys (DeleteObjects).
  util::Result<S3DeleteReport> delete_objects(const std::vector<std::string>& keys);

  // The URL of an object (or of the bucket, for an empty key).
  std::string object_url(const std::string& key) const;
  // A request for the bucket or one of its objects, signed now.
  HttpRequest signed_request(const std::string& method, const std::string& key, const QueryParams& query,
                             Headers headers, std::string body) const;
  // A request whose body is read as it is sent; `payload_sha256` is its SHA-256 in hex.
  HttpRequest signed_request(const std::string& method, const std::string& key, const QueryParams& query,
                             Headers headers, std::shared_ptr<const BodySource> body,
                             const std::string& payload_sha256) const;

private:
  HttpClient& m_http;
  S3Location m_location;
  AwsCredentials m_credentials;
  SystemClock m_clock;
};

}  // namespace wsp::net
