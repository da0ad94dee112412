#include "net/s3.hpp"

#include "util/files.hpp"
#include "util/hash.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>

namespace wsp::net {

namespace {

std::string digest_base64(std::string_view body, const EVP_MD* algorithm) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(body.data(), body.size(), digest, &length, algorithm, nullptr) != 1)
    throw std::runtime_error("digest failed in libcrypto");
  std::string encoded(4 * ((length + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), digest, static_cast<int>(length));
  encoded.resize(static_cast<std::size_t>(written));
  return encoded;
}

std::string trimmed(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return std::string(text);
}

std::string unquoted(std::string text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') return text.substr(1, text.size() - 2);
  return text;
}

// A byte count as the store writes it; 0 for anything else, which a later size check will flag.
std::int64_t parse_size(std::string_view text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string environment(const std::string& name) {
  const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
  return value ? value : "";
}

// One value of the credentials: from the named variable or file, when named.
util::Result<std::string> named_secret(const std::string& env, const std::filesystem::path& file,
                                       std::string_view key) {
  if (!env.empty()) {
    std::string value = environment(env);
    if (value.empty()) return util::Error{fmt::format("the environment variable {} ({}_env) is not set", env, key)};
    return value;
  }
  auto text = util::read_text_file(file);
  if (!text) return util::Error{fmt::format("{} ({}_file): {}", file.string(), key, text.message())};
  std::string value = trimmed(*text);
  if (value.empty()) return util::Error{fmt::format("{} ({}_file) is empty", file.string(), key)};
  return value;
}

// The profile's keys in an AWS shared credentials file (INI: "[profile]" then "name = value").
std::optional<AwsCredentials> shared_credentials(const std::filesystem::path& file, const std::string& profile) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  AwsCredentials out;
  bool in_profile = false;
  std::string line;
  while (std::getline(in, line)) {
    std::string text = trimmed(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      in_profile = trimmed(text.substr(1, text.size() - 2)) == profile;
      continue;
    }
    auto equals = text.find('=');
    if (!in_profile || equals == std::string::npos) continue;
    std::string name = trimmed(text.substr(0, equals)), value = trimmed(text.substr(equals + 1));
    if (name == "aws_access_key_id") out.access_key_id = value;
    if (name == "aws_secret_access_key") out.secret_access_key = value;
    if (name == "aws_session_token") out.session_token = value;
  }
  if (out.access_key_id.empty() || out.secret_access_key.empty()) return std::nullopt;
  return out;
}

// The S3 error code of a failed response ("NoSuchUpload"), or empty.
std::string error_code(const HttpResponse& response) {
  auto error = parse_s3_error(response.body);
  return error ? error->code : std::string();
}

}  // namespace

std::string md5_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr) != 1)
    throw std::runtime_error("digest failed in libcrypto");
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string sha256_base64(std::string_view bytes) { return digest_base64(bytes, EVP_sha256()); }

std::string composite_etag(const std::vector<std::string>& part_md5s) {
  std::string binary;
  for (const auto& hex : part_md5s)
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      binary.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return fmt::format("{}-{}", md5_hex(binary), part_md5s.size());
}

util::Result<AwsCredentials> load_credentials(const CredentialSource& source) {
  bool named_access = !source.access_key_env.empty() || !source.access_key_file.empty();
  bool named_secret_key = !source.secret_key_env.empty() || !source.secret_key_file.empty();
  // Keys the config names are the only ones used: falling back to others could publish to the wrong account.
  if (named_access || named_secret_key) {
    if (!named_access || !named_secret_key)
      return util::Error{"an S3 target names its access key or its secret key but not both"};
    auto access = named_secret(source.access_key_env, source.access_key_file, "access_key");
    if (!access) return access.error();
    auto secret = named_secret(source.secret_key_env, source.secret_key_file, "secret_key");
    if (!secret) return secret.error();
    return AwsCredentials{*access, *secret, environment(source.session_token_env)};
  }
  if (!environment("AWS_ACCESS_KEY_ID").empty() && !environment("AWS_SECRET_ACCESS_KEY").empty())
    return AwsCredentials{environment("AWS_ACCESS_KEY_ID"), environment("AWS_SECRET_ACCESS_KEY"),
                          environment("AWS_SESSION_TOKEN")};
  std::filesystem::path file = environment("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty() && !environment("HOME").empty()) file = std::filesystem::path(environment("HOME")) / ".aws/credentials";
  std::string profile = !source.profile.empty()            ? source.profile
                        : !environment("AWS_PROFILE").empty() ? environment("AWS_PROFILE")
                                                              : "default";
  if (!file.empty())
    if (auto found = shared_credentials(file, profile)) return *found;
  return util::Error{fmt::format("no S3 credentials: name them in the target (access_key_env and secret_key_env), "
                                 "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add a [{}] profile to {}",
                                 profile, file.empty() ? std::string("~/.aws/credentials") : file.string())};
}

S3Client::S3Client(HttpClient& http, S3Location location, AwsCredentials credentials, SystemClock clock)
    : m_http(http), m_location(std::move(location)), m_credentials(std::move(credentials)), m_clock(std::move(clock)) {
  if (m_location.region.empty()) m_location.region = "us-east-1";
  if (m_location.endpoint.empty()) m_location.endpoint = "https://s3." + m_location.region + ".amazonaws.com";
  while (!m_location.endpoint.empty() && m_location.endpoint.back() == '/') m_location.endpoint.pop_back();
}

std::string S3Client::object_url(const std::string& key) const {
  const std::string& endpoint = m_location.endpoint;
  auto scheme_end = endpoint.find("://");
  std::string scheme = scheme_end == std::string::npos ? "https://" : endpoint.substr(0, scheme_end + 3);
  std::string authority = scheme_end == std::string::npos ? endpoint : endpoint.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find('/'));
  std::string object_path = key.empty() ? "" : "/" + encode_path(key);
  if (m_location.path_style)
    return scheme + authority + "/" + uri_encode(m_location.bucket, false) + object_path;
  return scheme + m_location.bucket + "." + authority + (object_path.empty() ? "/" : object_path);
}

HttpRequest S3Client::signed_request(const std::string& method, const std::string& key, const QueryParams& query,
                                     Headers headers, std::string body) const {
  const std::string payload_sha256 = util::sha256_hex(body);
  auto request = signed_request(method, key, query, std::move(headers), nullptr, payload_sha256);
  request.body = std::move(body);
  return request;
}

HttpRequest S3Client::signed_request(const std::string& method, const std::string& key, const QueryParams& query,
                                     Headers headers, std::shared_ptr<const BodySource> body,
                                     const std::string& payload_sha256) const {
  HttpRequest request;
  request.method = method;
  request.url = object_url(key);
  if (!query.empty()) request.url += "?" + encode_query(query);
  request.ca_file = m_location.ca_file;

  auto host_start = request.url.find("://") + 3;
  std::string host = request.url.substr(host_start, request.url.find('/', host_start) - host_start);
  headers.insert(headers.begin(), Header{"Host", host});

  std::string path;
  if (m_location.path_style) path = "/" + m_location.bucket;
  if (!key.empty()) path += "/" + key;
  if (path.empty()) path = "/";

  SigningScope scope;
  scope.credentials = m_credentials;
  scope.region = m_location.region;
  scope.service = "s3";
  scope.time = std::chrono::floor<std::chrono::seconds>(m_clock());
  SigningRequest signing{method, path, query, headers, payload_sha256};
  auto signed_request = sign_with_header(signing, scope);
  headers.insert(headers.end(), signed_request.added_headers.begin(), signed_request.added_headers.end());
  request.headers = std::move(headers);
  request.body_source = std::move(body);
  return request;
}

void S3Client::put_object(S3Put put, std::function<void(util::Result<std::string>)> done) {
  if (!put.source) put.digests = digests_of(put.body);
  Headers headers{{"Content-MD5", put.digests.md5_base64}, {"x-amz-checksum-sha256", put.digests.sha256_base64}};
  if (!put.content_type.empty()) headers.push_back({"Content-Type", put.content_type});
  if (!put.cache_control.empty()) headers.push_back({"Cache-Control", put.cache_control});
  auto request = put.source ? signed_request("PUT", put.key, {}, std::move(headers), std::move(put.source),
                                             put.digests.sha256_hex)
                            : signed_request("PUT", put.key, {}, std::move(headers), std::move(put.body));
  m_http.send(std::move(request), [done = std::move(done)](HttpResponse response) {
    if (!response.ok()) return done(util::Error{response.error});
    done(unquoted(response.header("ETag").value_or("")));
  });
}

util::Result<std::string> S3Client::put_object(S3Put put) {
  std::promise<util::Result<std::string>> promise;
  auto future = promise.get_future();
  put_object(std::move(put), [&promise](util::Result<std::string> result) { promise.set_value(std::move(result)); });
  return future.get();
}

util::Result<std::string> S3Client::create_multipart_upload(const std::string& key, const std::string& content_type,
                                                           const std::string& cache_control) {
  Headers headers{{"x-amz-checksum-algorithm", "SHA256"}};
  if (!content_type.empty()) headers.push_back({"Content-Type", content_type});
  if (!cache_control.empty()) headers.push_back({"Cache-Control", cache_control});
  auto response = m_http.perform(signed_request("POST", key, {{"uploads", ""}}, std::move(headers), ""));
  if (!response.ok()) return util::Error{response.error};
  pugi::xml_document document;
  if (!document.load_buffer(response.body.data(), response.body.size()))
    return util::Error{"the store's answer to CreateMultipartUpload is not XML (" + key + ")"};
  std::string upload_id = document.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) return util::Error{"the store's answer to CreateMultipartUpload has no UploadId (" + key + ")"};
  return upload_id;
}

void S3Client::upload_part(const std::string& key, const std::string& upload_id, int number, std::string body,
                           std::function<void(util::Result<S3Part>)> done) {
  const auto digests = digests_of(body);
  upload_part(key, upload_id, number, std::make_shared<MemoryBody>(std::move(body)), digests, std::move(done));
}

void S3Client::upload_part(const std::string& key, const std::string& upload_id, int number,
                           std::shared_ptr<const BodySource> body, const BodyDigests& digests,
                           std::function<void(util::Result<S3Part>)> done) {
  S3Part part;
  part.number = number;
  part.size = body->size();
  part.checksum_sha256 = digests.sha256_base64;
  Headers headers{{"Content-MD5", digests.md5_base64}, {"x-amz-checksum-sha256", digests.sha256_base64}};
  auto request = signed_request("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                                std::move(headers), std::move(body), digests.sha256_hex);
  m_http.send(std::move(request), [part, md5 = digests.md5_hex, done = std::move(done)](HttpResponse response) mutable {
    if (!response.ok()) return done(util::Error{response.error});
    part.etag = unquoted(response.header("ETag").value_or(""));
    // Content-MD5 made the store check the bytes; an ETag that is not their MD5 is a store gone wrong.
    if (part.etag != md5)
      return done(util::Error{fmt::format("part {}: the store acknowledged it with ETag {}, not its MD5 {}",
                                          part.number, part.etag, md5)});
    done(std::move(part));
  });
}

util::Result<S3PartListing> S3Client::list_parts(const std::string& key, const std::string& upload_id) {
  S3PartListing listing;
  std::string marker;
  for (;;) {
    QueryParams query{{"uploadId", upload_id}};
    if (!marker.empty()) query.push_back({"part-number-marker", marker});
    auto response = m_http.perform(signed_request("GET", key, query, {}, ""));
    if (response.status == 404 && error_code(response) == "NoSuchUpload") {
      listing.outcome = S3PartListing::Outcome::no_such_upload;
      return listing;
    }
    if (response.status == 405 || response.status == 501) {
      listing.outcome = S3PartListing::Outcome::not_supported;
      return listing;
    }
    if (!response.ok()) return util::Error{response.error};
    pugi::xml_document document;
    if (!document.load_buffer(response.body.data(), response.body.size()) || !document.child("ListPartsResult"))
      return util::Error{"the store's answer to ListParts is not a ListPartsResult (" + key + ")"};
    auto result = document.child("ListPartsResult");
    for (auto node : result.children("Part")) {
      S3Part part;
      part.number = static_cast<int>(parse_size(node.child_value("PartNumber")));
      part.etag = unquoted(node.child_value("ETag"));
      part.checksum_sha256 = node.child_value("ChecksumSHA256");
      part.size = parse_size(node.child_value("Size"));
      listing.parts.push_back(std::move(part));
    }
    marker = result.child_value("NextPartNumberMarker");
    if (std::string_view(result.child_value("IsTruncated")) != "true" || marker.empty()) break;
  }
  return listing;
}

void S3Client::complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                         const std::vector<S3Part>& parts,
                                         std::function<void(util::Result<std::string>)> done) {
  pugi::xml_document request_document;
  auto root = request_document.append_child("CompleteMultipartUpload");
  for (const auto& part : parts) {
    auto node = root.append_child("Part");
    node.append_child("PartNumber").text().set(part.number);
    node.append_child("ETag").text().set(("\"" + part.etag + "\"").c_str());
    if (!part.checksum_sha256.empty()) node.append_child("ChecksumSHA256").text().set(part.checksum_sha256.c_str());
  }
  std::ostringstream xml;
  request_document.save(xml, "", pugi::format_raw | pugi::format_no_declaration);
  auto request =
      signed_request("POST", key, {{"uploadId", upload_id}}, {{"Content-Type", "application/xml"}}, xml.str());
  m_http.send(std::move(request), [key, done = std::move(done)](HttpResponse response) {
    if (!response.ok()) return done(util::Error{response.error});
    // A 200 may still carry an error, sent after the store started answering.
    pugi::xml_document document;
    if (!document.load_buffer(response.body.data(), response.body.size()))
      return done(util::Error{"the store's answer to CompleteMultipartUpload is not XML (" + key + ")"});
    if (auto error = document.child("Error"))
      return done(util::Error{fmt::format("{}: CompleteMultipartUpload: {}: {}", key, error.child_value("Code"),
                                          error.child_value("Message"))});
    done(unquoted(document.child("CompleteMultipartUploadResult").child_value("ETag")));
  });
}

util::Result<std::string> S3Client::complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                                              const std::vector<S3Part>& parts) {
  std::promise<util::Result<std::string>> promise;
  auto future = promise.get_future();
  complete_multipart_upload(key, upload_id, parts,
                            [&promise](util::Result<std::string> result) { promise.set_value(std::move(result)); });
  return future.get();
}

util::Status S3Client::abort_multipart_upload(const std::string& key, const std::string& upload_id) {
  auto response = m_http.perform(signed_request("DELETE", key, {{"uploadId", upload_id}}, {}, ""));
  if (response.status == 404) return util::Status::success();
  if (!response.ok()) return util::Error{response.error};
  return util::Status::success();
}

util::Result<std::optional<S3Object>> S3Client::head_object(const std::string& key) {
  auto response = m_http.perform(signed_request("HEAD", key, {}, {}, ""));
  if (response.status == 404) return std::optional<S3Object>{};
  if (!response.ok()) return util::Error{response.error};
  S3Object object;
  object.key = key;
  object.size = parse_size(response.header("Content-Length").value_or(""));
  object.etag = unquoted(response.header("ETag").value_or(""));
  object.last_modified = response.header("Last-Modified").value_or("");
  return std::optional<S3Object>{object};
}

util::Result<std::vector<S3Object>> S3Client::list_objects(const std::string& prefix, int page_size) {
  std::vector<S3Object> objects;
  std::string continuation;
  for (;;) {
    QueryParams query{{"list-type", "2"}, {"encoding-type", "url"}, {"max-keys", std::to_string(page_size)}};
    if (!prefix.empty()) query.push_back({"prefix", prefix});
    if (!continuation.empty()) query.push_back({"continuation-token", continuation});
    auto response = m_http.perform(signed_request("GET", "", query, {}, ""));
    if (!response.ok()) return util::Error{response.error};

    pugi::xml_document document;
    if (!document.load_buffer(response.body.data(), response.body.size()))
      return util::Error{"the store's object list is not XML (ListObjectsV2 on " + m_location.bucket + ")"};
    auto result = document.child("ListBucketResult");
    if (!result) return util::Error{"the store's object list has no ListBucketResult (" + m_location.bucket + ")"};
    // Keys come URL-encoded (with '+' for a space) when the store honoured encoding-type=url.
    bool url_encoded = std::string_view(result.child_value("EncodingType")) == "url";
    auto decoded = [&](std::string text) {
      if (!url_encoded) return text;
      std::replace(text.begin(), text.end(), '+', ' ');
      return uri_decode(text);
    };
    for (auto contents : result.children("Contents")) {
      S3Object object;
      object.key = decoded(contents.child_value("Key"));
      object.size = parse_size(contents.child_value("Size"));
      object.etag = unquoted(contents.child_value("ETag"));
      object.last_modified = contents.child_value("LastModified");
      objects.push_back(std::move(object));
    }
    continuation = result.child_value("NextContinuationToken");
    if (std::string_view(result.child_value("IsTruncated")) != "true" || continuation.empty()) break;
  }
  return objects;
}

util::Result<S3UploadListing> S3Client::list_multipart_uploads(const std::string& prefix, int page_size) {
  S3UploadListing listing;
  std::string key_marker, upload_id_marker;
  for (;;) {
    QueryParams query{{"uploads", ""}, {"encoding-type", "url"}, {"max-uploads", std::to_string(page_size)}};
    if (!prefix.empty()) query.push_back({"prefix", prefix});
    if (!key_marker.empty()) query.push_back({"key-marker", key_marker});
    if (!upload_id_marker.empty()) query.push_back({"upload-id-marker", upload_id_marker});
    auto response = m_http.perform(signed_request("GET", "", query, {}, ""));
    if (response.status == 501 || response.status == 405 || error_code(response) == "NotImplemented") {
      listing.supported = false;
      return listing;
    }
    if (!response.ok()) return util::Error{response.error};
    pugi::xml_document document;
    if (!document.load_buffer(response.body.data(), response.body.size()) ||
        !document.child("ListMultipartUploadsResult"))
      return util::Error{"the store's answer to ListMultipartUploads is not a ListMultipartUploadsResult (" +
                         m_location.bucket + ")"};
    auto result = document.child("ListMultipartUploadsResult");
    bool url_encoded = std::string_view(result.child_value("EncodingType")) == "url";
    auto decoded = [&](std::string text) {
      if (!url_encoded) return text;
      std::replace(text.begin(), text.end(), '+', ' ');
      return uri_decode(text);
    };
    for (auto node : result.children("Upload"))
      listing.uploads.push_back({decoded(node.child_value("Key")), node.child_value("UploadId"),
                                 node.child_value("Initiated")});
    key_marker = decoded(result.child_value("NextKeyMarker"));
    upload_id_marker = result.child_value("NextUploadIdMarker");
    if (std::string_view(result.child_value("IsTruncated")) != "true" || key_marker.empty()) break;
  }
  return listing;
}

util::Result<S3DeleteReport> S3Client::delete_objects(const std::vector<std::string>& keys) {
  constexpr std::size_t k_batch = 1000;  // S3's limit per DeleteObjects
  S3DeleteReport report;
  for (std::size_t start = 0; start < keys.size(); start += k_batch) {
    pugi::xml_document request_document;
    auto root = request_document.append_child("Delete");
    root.append_child("Quiet").text().set("false");
    for (std::size_t i = start; i < std::min(keys.size(), start + k_batch); ++i)
      root.append_child("Object").append_child("Key").text().set(keys[i].c_str());
    std::ostringstream xml;
    request_document.save(xml, "", pugi::format_raw | pugi::format_no_declaration);
    std::string body = xml.str();

    Headers headers{{"Content-MD5", digest_base64(body, EVP_md5())}, {"Content-Type", "application/xml"}};
    auto response = m_http.perform(signed_request("POST", "", {{"delete", ""}}, std::move(headers), std::move(body)));
    if (!response.ok()) return util::Error{response.error};
    pugi::xml_document document;
    if (!document.load_buffer(response.body.data(), response.body.size()) || !document.child("DeleteResult"))
      return util::Error{"the store's answer to DeleteObjects is not a DeleteResult (" + m_location.bucket + ")"};
    for (auto deleted : document.child("DeleteResult").children("Deleted"))
      report.deleted.emplace_back(deleted.child_value("Key"));
    for (auto error : document.child("DeleteResult").children("Error"))
      report.errors.push_back(fmt::format("{}: {}: {}", error.child_value("Key"), error.child_value("Code"),
                                          error.child_value("Message")));
  }
  return report;
}

}  // namespace wsp::net
