#pragma once
// CDN purges: after a target's pages are live, the CDN in front of it is told
// to drop its copies of the mutable files (pages, the manifest, unhashed
// styles). Content-hashed files never need it: their names change with them.
// Cloudflare (purge_cache by URL, 30 a request), CloudFront (CreateInvalidation,
// signed with SigV4) and Fastly (purge by URL, one a request, soft on request).

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"
#include "net/sigv4.hpp"

namespace wsp::publish {

struct CdnSettings {
  std::string provider;  // cloudflare | cloudfront | fastly
  std::string api_base;  // empty: the provider's own API
  std::string zone_id;          // cloudflare
  std::string distribution_id;  // cloudfront
  std::string token;            // cloudflare: the Bearer token; fastly: the Fastly-Key
  net::AwsCredentials aws;      // cloudfront
  bool soft = false;            // fastly: mark stale instead of evicting
};

// The provider's API when `api_base` is empty: https://api.cloudflare.com/client/v4,
// https://cloudfront.amazonaws.com, https://api.fastly.com.
std::string default_api_base(std::string_view provider);

// The public URL of each path under `public_url`, each segment encoded once;
// an index.html also as its folder ("https://site/a/" beside "https://site/a/index.html"),
// which is how visitors ask for it.
std::vector<std::string> purge_urls(std::string_view public_url, std::span<const std::string> paths);

// One request to the provider and the URLs it purges.
struct PurgeCall {
  net::HttpRequest request;
  std::vector<std::string> urls;
};

// The requests that purge `urls`, built and signed, not sent. `caller_reference`
// makes a CloudFront invalidation unique (a retried request is not a second one).
std::vector<PurgeCall> purge_calls(const CdnSettings& settings, std::span<const std::string> urls,
                                   std::chrono::sys_seconds now, std::string_view caller_reference);

struct PurgeReport {
  std::vector<std::string> purged;
  std::vector<std::string> stale;   // URLs whose purge failed: the CDN may still serve old copies
  std::vector<std::string> errors;  // why, redacted
  int requests = 0;
};

// Sends the purge through `http` (its retries apply) and says what failed.
PurgeReport purge(net::HttpClient& http, const CdnSettings& settings, std::span<const std::string> urls);

}  // namespace wsp::publish
