#include "publish/s3_target.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "publish/plan.hpp"
#include "util/hash.hpp"

namespace wsp::publish {

namespace {

std::string_view extension_of(std::string_view path) {
  auto slash = path.rfind('/');
  auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// One file going up in parts, each read from the file as it is sent: at most
// `window` parts in flight, each recorded in the journal as the store
// acknowledges it, then the completion, whose ETag is checked against the
// parts' MD5s. Lives as long as a callback holds it.
class PartedUpload : public std::enable_shared_from_this<PartedUpload> {
public:
  PartedUpload(net::S3Client& client, UploadJournal* journal, std::atomic<std::int64_t>& requests, std::string key,
               std::string where, std::shared_ptr<const net::BodySource> body, net::PartedDigests digests,
               UploadRecord record, std::vector<bool> have, std::size_t window, std::function<void(util::Status)> done)
      : m_client(client), m_journal(journal), m_requests(requests), m_key(std::move(key)), m_where(std::move(where)),
        m_body(std::move(body)), m_digests(std::move(digests)), m_record(std::move(record)), m_have(std::move(have)),
        m_window(window), m_done(std::move(done)) {}

  void start() {
    std::unique_lock lock(m_mutex);
    launch(lock);
  }

private:
  std::shared_ptr<const net::BodySource> part_body(std::size_t index) const {
    const auto offset = m_record.part_size * static_cast<std::int64_t>(index);
    return std::make_shared<net::BodySlice>(m_body, offset, std::min(m_record.part_size, m_body->size() - offset));
  }

  // Sends parts while there is room; completes once every part is in.
  void launch(std::unique_lock<std::mutex>& lock) {
    while (!m_failed && m_in_flight < m_window) {
      while (m_next < m_have.size() && m_have[m_next]) ++m_next;
      if (m_next == m_have.size()) break;
      const std::size_t index = m_next++;
      ++m_in_flight;
      ++m_requests;
      lock.unlock();
      m_client.upload_part(m_key, m_record.upload_id, static_cast<int>(index + 1), part_body(index),
                           m_digests.parts[index], [self = shared_from_this(), index](util::Result<net::S3Part> part) {
                             self->part_landed(index, std::move(part));
                           });
      lock.lock();
    }
    if (m_in_flight > 0 || m_finishing) return;
    m_finishing = true;
    if (m_failed) {
      lock.unlock();
      return m_done(util::Error{fmt::format("{}: cannot upload: {}", m_where, m_failure)});
    }
    lock.unlock();
    complete();
  }

  void part_landed(std::size_t index, util::Result<net::S3Part> part) {
    if (part && m_journal)
      m_journal->part_done(m_record.upload_id, {part->number, part->etag, part->checksum_sha256, part->size});
    std::unique_lock lock(m_mutex);
    --m_in_flight;
    if (!part) {
      if (!m_failed) m_failure = part.message();
      m_failed = true;
    } else {
      m_have[index] = true;
    }
    launch(lock);
  }

  void complete() {
    std::vector<net::S3Part> parts;
    std::vector<std::string> md5s;
    for (std::size_t i = 0; i < m_have.size(); ++i) {
      md5s.push_back(m_digests.parts[i].md5_hex);
      parts.push_back({static_cast<int>(i + 1), md5s.back(), m_digests.parts[i].sha256_base64, 0});
    }
    ++m_requests;
    m_client.complete_multipart_upload(
        m_key, m_record.upload_id, parts,
        [self = shared_from_this(), md5s = std::move(md5s)](util::Result<std::string> etag) {
          if (!etag) return self->m_done(util::Error{fmt::format("{}: cannot complete the upload: {}", self->m_where,
                                                                  etag.message())});
          // S3 gives the MD5 of the parts' MD5s; a store that assembles the
          // object anew may give the whole file's MD5: either is checked.
          if (*etag != net::composite_etag(md5s) && *etag != self->m_digests.whole.md5_hex)
            return self->m_done(util::Error{fmt::format(
                "{}: the store assembled an object whose ETag {} matches neither its parts ({}) nor its bytes",
                self->m_where, *etag, net::composite_etag(md5s))});
          if (self->m_journal) self->m_journal->ended(self->m_record.upload_id);
          self->m_done(util::Status::success());
        });
  }

  net::S3Client& m_client;
  UploadJournal* m_journal;
  std::atomic<std::int64_t>& m_requests;
  std::string m_key, m_where;
  std::shared_ptr<const net::BodySource> m_body;
  net::PartedDigests m_digests;
  UploadRecord m_record;
  std::mutex m_mutex;
  std::vector<bool> m_have;  // per part: acknowledged by the store
  std::size_t m_window;
  std::size_t m_next = 0, m_in_flight = 0;
  bool m_failed = false, m_finishing = false;
  std::string m_failure;
  std::function<void(util::Status)> m_done;
};

class S3Target final : public PublishTarget {
public:
  S3Target(net::HttpClient& http, S3TargetSettings settings, net::AwsCredentials credentials)
      : m_http(http),
        m_name(std::move(settings.name)),
        m_prefix(s3_prefix(settings.prefix)),
        m_max_age(settings.max_age),
        m_multipart_threshold(settings.multipart_threshold),
        m_part_size(std::max<std::int64_t>(settings.part_size, std::int64_t{5} << 20)),
        m_journal(settings.journal),
        m_client(http, settings.location, std::move(credentials)),
        m_retries_before(http.retries_spent()) {}

  const std::string& name() const override { return m_name; }
  std::string location(std::string_view path) const override { return m_client.object_url(key(path)); }

  util::Status put(std::string_view path, std::string_view bytes) override {
    std::promise<util::Status> promise;
    auto future = promise.get_future();
    put_async(std::string(path), std::string(bytes), false,
              [&promise](util::Status status) { promise.set_value(std::move(status)); });
    return future.get();
  }

  void put_async(std::string path, std::string bytes, bool, std::function<void(util::Status)> done) override {
    if (auto checked = check_publish_path(path); !checked) return done(checked);
    if (static_cast<std::int64_t>(bytes.size()) >= m_multipart_threshold)
      return put_in_parts(std::move(path), std::make_shared<net::MemoryBody>(std::move(bytes)), std::nullopt,
                          std::move(done));
    ++m_requests;
    auto where = location(path);
    m_client.put_object({key(path), std::move(bytes), content_type_of(path), cache_control_of(path, m_max_age)},
                        [where = std::move(where), done = std::move(done)](util::Result<std::string> put) {
                          if (!put) return done(util::Error{fmt::format("{}: cannot upload: {}", where, put.message())});
                          done(util::Status::success());
                        });
  }

  // The file is hashed in one pass of a small buffer, then read again as
  // libcurl sends it: a file (or part) in flight costs a buffer, not its size.
  void put_file_async(std::string path, std::filesystem::path source, std::string sha256, bool,
                      std::function<void(util::Status)> done) override {
    if (auto checked = check_publish_path(path); !checked) return done(checked);
    auto opened = net::FileBody::open(source);
    if (!opened) return done(opened.error());
    std::shared_ptr<const net::BodySource> body = std::move(*opened);
    if (body->size() >= m_multipart_threshold) return put_in_parts(std::move(path), body, sha256, std::move(done));
    auto digests = net::digest_in_parts(*body, std::max<std::int64_t>(body->size(), 1));
    if (!digests) return done(digests.error());
    if (digests->whole.sha256_hex != sha256) return done(changed_since_recorded(source));
    ++m_requests;
    auto where = location(path);
    net::S3Put put{key(path), {}, content_type_of(path), cache_control_of(path, m_max_age), std::move(body), digests->whole};
    m_client.put_object(std::move(put),
                        [where = std::move(where), done = std::move(done)](util::Result<std::string> put) {
                          if (!put) return done(util::Error{fmt::format("{}: cannot upload: {}", where, put.message())});
                          done(util::Status::success());
                        });
  }

  // As many as the HTTP client keeps connections to one host.
  std::size_t concurrency() const override { return 8; }

  // Without a LIST (or a HEAD per file) a key someone else put there cannot
  // be told apart: the first publish to a prefix owns the names it writes.
  util::Status put_new(std::string_view path, std::string_view bytes) override { return put(path, bytes); }

  util::Status remove(std::string_view path) override {
    std::string one(path);
    return remove_all(std::span<const std::string>(&one, 1)).front();
  }

  std::vector<util::Status> remove_all(std::span<const std::string> paths) override {
    std::vector<util::Status> results(paths.size(), util::Status::success());
    std::vector<std::string> keys;
    std::map<std::string, std::size_t> index_of;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (auto checked = check_publish_path(paths[i]); !checked) {
        results[i] = checked;
        continue;
      }
      keys.push_back(key(paths[i]));
      index_of.emplace(keys.back(), i);
    }
    if (keys.empty()) return results;
    m_requests += static_cast<std::int64_t>((keys.size() + 999) / 1000);
    auto report = m_client.delete_objects(keys);
    if (!report) {
      for (const auto& [k, i] : index_of) results[i] = util::Error{fmt::format("{}: cannot delete: {}", k, report.message())};
      return results;
    }
    // "key: Code: Message" for each key the store refused.
    for (const auto& error : report->errors)
      for (const auto& [k, i] : index_of)
        if (error.starts_with(k + ": ")) results[i] = util::Error{fmt::format("cannot delete {}", error)};
    return results;
  }

  std::vector<util::Status> abort_stale_uploads(
      std::span<const std::pair<std::string, std::string>> uploading) override {
    std::vector<util::Status> failures;
    if (!m_journal) return failures;
    const std::set<std::pair<std::string, std::string>> wanted(uploading.begin(), uploading.end());
    for (const auto& upload : m_journal->uploads()) {
      if (wanted.contains({upload.path, upload.sha256})) continue;
      if (auto aborted = abort_upload(upload); !aborted) failures.push_back(aborted);
    }
    return failures;
  }

  std::int64_t requests() const override { return m_requests + (m_http.retries_spent() - m_retries_before); }

private:
  std::string key(std::string_view path) const { return m_prefix + std::string(path); }

  util::Status abort_upload(const UploadRecord& upload) {
    ++m_requests;
    if (auto aborted = m_client.abort_multipart_upload(key(upload.path), upload.upload_id); !aborted)
      return util::Error{fmt::format("{}: cannot abort an unfinished upload: {}", location(upload.path),
                                     aborted.message())};
    m_journal->ended(upload.upload_id);
    return util::Status::success();
  }

  // The parts of `record` the store holds with exactly the bytes of this
  // file's parts (their MD5 is the ETag), as ListParts tells; where the store
  // cannot list parts, those the journal recorded. Nothing when the store no
  // longer knows the upload.
  util::Result<std::optional<std::vector<bool>>> parts_in_place(const UploadRecord& record,
                                                                const net::PartedDigests& digests) {
    ++m_requests;
    auto listing = m_client.list_parts(key(record.path), record.upload_id);
    if (!listing) return listing.error();
    if (listing->outcome == net::S3PartListing::Outcome::no_such_upload) return std::optional<std::vector<bool>>{};
    std::vector<UploadPart> held;
    if (listing->outcome == net::S3PartListing::Outcome::not_supported) {
      held = record.parts;
    } else {
      for (const auto& part : listing->parts) held.push_back({part.number, part.etag, part.checksum_sha256, part.size});
    }
    std::set<int> recorded;
    for (const auto& part : record.parts) recorded.insert(part.number);
    const auto count = digests.parts.size();
    std::vector<bool> have(count, false);
    for (const auto& part : held) {
      if (part.number < 1 || static_cast<std::size_t>(part.number) > count) continue;
      const auto& mine = digests.parts[static_cast<std::size_t>(part.number - 1)];
      if (part.etag != mine.md5_hex) continue;
      have[static_cast<std::size_t>(part.number - 1)] = true;
      // A part that landed just before a kill stopped its record.
      if (!recorded.contains(part.number))
        m_journal->part_done(record.upload_id, {part.number, part.etag, mine.sha256_base64, mine.size});
    }
    return std::optional<std::vector<bool>>{std::move(have)};
  }

  // A large file, hashed part by part in one pass first (and refused when it
  // no longer hashes to `expected_sha256`): the upload begun for these very
  // bytes by an earlier run goes on from the parts the store holds; an upload
  // of other bytes to the same path is aborted.
  void put_in_parts(std::string path, std::shared_ptr<const net::BodySource> body,
                    std::optional<std::string> expected_sha256, std::function<void(util::Status)> done) {
    const auto where = location(path);
    auto digests = net::digest_in_parts(*body, m_part_size);
    if (!digests) return done(util::Error{fmt::format("{}: cannot read: {}", where, digests.message())});
    const std::string sha256 = digests->whole.sha256_hex;
    if (expected_sha256 && *expected_sha256 != sha256)
      return done(util::Error{fmt::format("{}: the file no longer matches its record; it is not published", where)});
    std::optional<UploadRecord> record;
    std::vector<bool> have(digests->parts.size(), false);
    if (m_journal)
      for (const auto& upload : m_journal->uploads()) {
        if (upload.path != path) continue;
        if (record || upload.sha256 != sha256 || upload.part_size != m_part_size) {
          if (auto aborted = abort_upload(upload); !aborted) return done(aborted);
          continue;
        }
        auto in_place = parts_in_place(upload, *digests);
        if (!in_place) return done(util::Error{fmt::format("{}: cannot resume its upload: {}", where, in_place.message())});
        if (!*in_place) {
          m_journal->ended(upload.upload_id);
          continue;
        }
        record = upload;
        have = std::move(**in_place);
      }
    if (!record) {
      ++m_requests;
      auto created = m_client.create_multipart_upload(key(path), content_type_of(path), cache_control_of(path, m_max_age));
      if (!created) return done(util::Error{fmt::format("{}: cannot begin its upload: {}", where, created.message())});
      record = UploadRecord{path, sha256, *created, m_part_size, {}};
      if (m_journal) m_journal->begun(*record);
    }
    auto upload = std::make_shared<PartedUpload>(m_client, m_journal, m_requests, key(path), where, std::move(body),
                                                 std::move(*digests), std::move(*record), std::move(have),
                                                 concurrency(), std::move(done));
    upload->start();
  }

  net::HttpClient& m_http;
  std::string m_name;
  std::string m_prefix;
  int m_max_age;
  std::int64_t m_multipart_threshold;
  std::int64_t m_part_size;
  UploadJournal* m_journal;
  net::S3Client m_client;
  std::atomic<std::int64_t> m_requests{0};
  int m_retries_before;
};

}  // namespace

std::int64_t part_count(std::int64_t size, std::int64_t part_size) {
  return std::max<std::int64_t>(1, (size + part_size - 1) / part_size);
}

std::string s3_prefix(std::string_view prefix) {
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return prefix.empty() ? std::string() : std::string(prefix) + "/";
}

std::string content_type_of(std::string_view path) {
  static const std::map<std::string, std::string, std::less<>> k_types{
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},   {"js", "text/javascript; charset=utf-8"},
      {"json", "application/json"},         {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},           {"svg", "image/svg+xml"},
      {"jpg", "image/jpeg"},                {"jpeg", "image/jpeg"},
      {"webp", "image/webp"},               {"avif", "image/avif"},
      {"png", "image/png"},                 {"gif", "image/gif"},
      {"ico", "image/x-icon"},              {"woff2", "font/woff2"},
      {"woff", "font/woff"},                {"tif", "image/tiff"},
      {"tiff", "image/tiff"},               {"zip", "application/zip"}};
  auto found = k_types.find(lower(extension_of(path)));
  return found == k_types.end() ? "application/octet-stream" : found->second;
}

std::string cache_control_of(std::string_view path, int max_age) {
  if (is_immutable_path(path)) return "public, max-age=31536000, immutable";
  return fmt::format("public, max-age={}", max_age);
}

std::string s3_identity(const net::S3Location& location, std::string_view prefix) {
  std::string endpoint = location.endpoint;
  if (endpoint.empty()) endpoint = fmt::format("https://s3.{}.amazonaws.com", location.region.empty() ? "us-east-1" : location.region);
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return fmt::format("s3:{}/{}/{}", lower(endpoint), location.bucket, s3_prefix(prefix));
}

util::Result<std::unique_ptr<PublishTarget>> open_s3_target(net::HttpClient& http, S3TargetSettings settings) {
  auto credentials = net::load_credentials(settings.credentials);
  if (!credentials) return credentials.error();
  return std::unique_ptr<PublishTarget>(std::make_unique<S3Target>(http, std::move(settings), std::move(*credentials)));
}

}  // namespace wsp::publish
