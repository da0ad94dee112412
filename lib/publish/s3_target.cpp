#include "publish/s3_target.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>

#include <fmt/format.h>

#include "publish/plan.hpp"

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

class S3Target final : public PublishTarget {
public:
  S3Target(net::HttpClient& http, S3TargetSettings settings, net::AwsCredentials credentials)
      : m_http(http),
        m_name(std::move(settings.name)),
        m_prefix(s3_prefix(settings.prefix)),
        m_max_age(settings.max_age),
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
    ++m_requests;
    auto where = location(path);
    m_client.put_object({key(path), std::move(bytes), content_type_of(path), cache_control_of(path, m_max_age)},
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

  std::int64_t requests() const override { return m_requests + (m_http.retries_spent() - m_retries_before); }

private:
  std::string key(std::string_view path) const { return m_prefix + std::string(path); }

  net::HttpClient& m_http;
  std::string m_name;
  std::string m_prefix;
  int m_max_age;
  net::S3Client m_client;
  std::atomic<std::int64_t> m_requests{0};
  int m_retries_before;
};

}  // namespace

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
