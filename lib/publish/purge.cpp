#include "publish/purge.hpp"

#include <atomic>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <unistd.h>

#include "util/hash.hpp"

namespace wsp::publish {

namespace {

constexpr std::size_t k_cloudflare_batch = 30;    // files per purge_cache request
constexpr std::size_t k_cloudfront_batch = 1000;  // paths per invalidation, well under its limits

std::string base_of(const CdnSettings& settings) {
  std::string base = settings.api_base.empty() ? default_api_base(settings.provider) : settings.api_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

// "https://host:8443/a/b" -> {"https://", "host:8443", "/a/b"}.
struct UrlParts {
  std::string scheme, authority, path;
};
UrlParts split_url(std::string_view url) {
  UrlParts parts;
  auto scheme_end = url.find("://");
  std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  parts.scheme = std::string(url.substr(0, start));
  auto slash = url.find('/', start);
  parts.authority = std::string(url.substr(start, slash == std::string_view::npos ? url.npos : slash - start));
  parts.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  return parts;
}

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<PurgeCall> cloudflare_calls(const CdnSettings& settings, std::span<const std::string> urls) {
  std::vector<PurgeCall> calls;
  for (std::size_t start = 0; start < urls.size(); start += k_cloudflare_batch) {
    PurgeCall call;
    call.urls.assign(urls.begin() + static_cast<std::ptrdiff_t>(start),
                     urls.begin() + static_cast<std::ptrdiff_t>(std::min(urls.size(), start + k_cloudflare_batch)));
    call.request.method = "POST";
    call.request.url = fmt::format("{}/zones/{}/purge_cache", base_of(settings), net::uri_encode(settings.zone_id, false));
    call.request.headers = {{"Authorization", "Bearer " + settings.token}, {"Content-Type", "application/json"}};
    call.request.body = json_text({{"files", call.urls}});
    calls.push_back(std::move(call));
  }
  return calls;
}

std::vector<PurgeCall> cloudfront_calls(const CdnSettings& settings, std::span<const std::string> urls,
                                        std::chrono::sys_seconds now, std::string_view caller_reference) {
  std::vector<PurgeCall> calls;
  for (std::size_t start = 0; start < urls.size(); start += k_cloudfront_batch) {
    PurgeCall call;
    call.urls.assign(urls.begin() + static_cast<std::ptrdiff_t>(start),
                     urls.begin() + static_cast<std::ptrdiff_t>(std::min(urls.size(), start + k_cloudfront_batch)));
    pugi::xml_document document;
    auto declaration = document.append_child(pugi::node_declaration);
    declaration.append_attribute("version") = "1.0";
    declaration.append_attribute("encoding") = "UTF-8";
    auto batch = document.append_child("InvalidationBatch");
    batch.append_attribute("xmlns") = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
    auto paths = batch.append_child("Paths");
    paths.append_child("Quantity").text().set(static_cast<unsigned long long>(call.urls.size()));
    auto items = paths.append_child("Items");
    // CloudFront invalidates paths of the distribution, already URL-encoded.
    for (const auto& url : call.urls) items.append_child("Path").text().set(split_url(url).path.c_str());
    const std::string reference = fmt::format("{}-{}", caller_reference, start / k_cloudfront_batch);
    batch.append_child("CallerReference").text().set(reference.c_str());
    std::ostringstream xml;
    document.save(xml, "", pugi::format_raw);
    call.request.body = xml.str();

    const std::string base = base_of(settings);
    const auto base_parts = split_url(base);
    const std::string base_path = base_parts.path == "/" ? "" : base_parts.path;
    const std::string path =
        fmt::format("{}/2020-05-31/distribution/{}/invalidation", base_path, net::uri_encode(settings.distribution_id, false));
    call.request.method = "POST";
    call.request.url = base_parts.scheme + base_parts.authority + path;
    net::Headers headers{{"Host", base_parts.authority}, {"Content-Type", "application/xml"}};
    net::SigningScope scope;
    scope.credentials = settings.aws;
    scope.region = "us-east-1";  // CloudFront is global, signed in us-east-1
    scope.service = "cloudfront";
    scope.time = now;
    scope.normalize_path = true;
    scope.content_sha256_header = false;
    auto signed_request = net::sign_with_header(
        {"POST", net::uri_decode(path), {}, headers, util::sha256_hex(call.request.body)}, scope);
    headers.insert(headers.end(), signed_request.added_headers.begin(), signed_request.added_headers.end());
    call.request.headers = std::move(headers);
    calls.push_back(std::move(call));
  }
  return calls;
}

std::vector<PurgeCall> fastly_calls(const CdnSettings& settings, std::span<const std::string> urls) {
  std::vector<PurgeCall> calls;
  for (const auto& url : urls) {
    PurgeCall call;
    call.urls = {url};
    const auto parts = split_url(url);
    call.request.method = "POST";
    // POST /purge/{cached_url}: the URL without its scheme.
    call.request.url = fmt::format("{}/purge/{}{}", base_of(settings), parts.authority, parts.path);
    call.request.headers = {{"Fastly-Key", settings.token}, {"Accept", "application/json"}};
    if (settings.soft) call.request.headers.push_back({"Fastly-Soft-Purge", "1"});
    calls.push_back(std::move(call));
  }
  return calls;
}

// Whether the provider says it did it, beyond a 2xx.
std::string refusal(const CdnSettings& settings, const net::HttpResponse& response) {
  if (!response.ok()) return response.error.empty() ? fmt::format("HTTP {}", response.status) : response.error;
  if (settings.provider == "cloudflare") {
    auto answer = nlohmann::json::parse(response.body, nullptr, false);
    if (!answer.is_object() || answer.value("success", false) != true)
      return fmt::format("Cloudflare did not confirm the purge (HTTP {})", response.status);
  }
  return {};
}

}  // namespace

std::string default_api_base(std::string_view provider) {
  if (provider == "cloudflare") return "https://api.cloudflare.com/client/v4";
  if (provider == "cloudfront") return "https://cloudfront.amazonaws.com";
  return "https://api.fastly.com";
}

std::vector<std::string> purge_urls(std::string_view public_url, std::span<const std::string> paths) {
  std::string base(public_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::vector<std::string> urls;
  for (const auto& path : paths) {
    const std::string encoded = net::encode_path(path);
    if (path == "index.html" || path.ends_with("/index.html"))
      urls.push_back(fmt::format("{}/{}", base, encoded.substr(0, encoded.size() - std::string_view("index.html").size())));
    urls.push_back(fmt::format("{}/{}", base, encoded));
  }
  return urls;
}

std::vector<PurgeCall> purge_calls(const CdnSettings& settings, std::span<const std::string> urls,
                                   std::chrono::sys_seconds now, std::string_view caller_reference) {
  if (urls.empty()) return {};
  if (settings.provider == "cloudflare") return cloudflare_calls(settings, urls);
  if (settings.provider == "cloudfront") return cloudfront_calls(settings, urls, now, caller_reference);
  return fastly_calls(settings, urls);
}

PurgeReport purge(net::HttpClient& http, const CdnSettings& settings, std::span<const std::string> urls) {
  static std::atomic<int> k_sequence{0};
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::string reference =
      fmt::format("wsportfolio-{}-{}-{}", now.time_since_epoch().count(), ::getpid(), k_sequence++);
  PurgeReport report;
  for (auto& call : purge_calls(settings, urls, now, reference)) {
    // CloudFront's CallerReference makes a retry the same invalidation, never a second one.
    ++report.requests;
    auto response = http.perform(std::move(call.request));
    report.requests += std::max(0, response.attempts - 1);
    auto why = refusal(settings, response);
    auto& into = why.empty() ? report.purged : report.stale;
    into.insert(into.end(), call.urls.begin(), call.urls.end());
    if (!why.empty()) report.errors.push_back(std::move(why));
  }
  return report;
}

}  // namespace wsp::publish
