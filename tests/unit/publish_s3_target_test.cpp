// What an S3 target sends besides the bytes (content type, cache policy), the
// identity its record is kept under, and the configuration of s3 targets and
// CDN purges.

#include "config/config.hpp"
#include "publish/s3_target.hpp"

#include <gtest/gtest.h>

namespace {

using namespace wsp;

TEST(S3Target, ContentTypesOfTheGallery) {
  EXPECT_EQ(publish::content_type_of("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(publish::content_type_of("scenes/ceremony.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(publish::content_type_of("renders/first-kiss-960.3f9a1c2b7d4e.webp"), "image/webp");
  EXPECT_EQ(publish::content_type_of("renders/first-kiss-960.3f9a1c2b7d4e.jpg"), "image/jpeg");
  EXPECT_EQ(publish::content_type_of("renders/first-kiss-960.3f9a1c2b7d4e.avif"), "image/avif");
  EXPECT_EQ(publish::content_type_of("manifest.json"), "application/json");
  EXPECT_EQ(publish::content_type_of("gallery.css"), "text/css; charset=utf-8");
  EXPECT_EQ(publish::content_type_of("README"), "application/octet-stream");
}

TEST(S3Target, OnlyContentHashedNamesAreCachedForever) {
  EXPECT_EQ(publish::cache_control_of("renders/first-kiss-960.3f9a1c2b7d4e.webp", 300),
            "public, max-age=31536000, immutable");
  EXPECT_EQ(publish::cache_control_of("index.html", 300), "public, max-age=300");
  EXPECT_EQ(publish::cache_control_of("manifest.json", 60), "public, max-age=60");
  EXPECT_EQ(publish::cache_control_of("gallery.css", 0), "public, max-age=0");
}

TEST(S3Target, PrefixesEndWithOneSlash) {
  EXPECT_EQ(publish::s3_prefix(""), "");
  EXPECT_EQ(publish::s3_prefix("/"), "");
  EXPECT_EQ(publish::s3_prefix("anna-ben-2026"), "anna-ben-2026/");
  EXPECT_EQ(publish::s3_prefix("/anna-ben-2026//"), "anna-ben-2026/");
  EXPECT_EQ(publish::s3_prefix("Mariée à l'église/2026/"), "Mariée à l'église/2026/");
}

TEST(S3Target, IdentityIsWhereTheTargetPointsNotHowItIsReached) {
  net::S3Location r2;
  r2.endpoint = "https://Account.r2.cloudflarestorage.com/";
  r2.region = "auto";
  r2.bucket = "portfolios";
  const auto base = publish::s3_identity(r2, "anna-ben-2026");
  EXPECT_EQ(base, "s3:https://account.r2.cloudflarestorage.com/portfolios/anna-ben-2026/");
  auto path_style = r2;
  path_style.path_style = true;
  EXPECT_EQ(publish::s3_identity(path_style, "/anna-ben-2026/"), base) << "the same bucket and prefix";
  auto other_bucket = r2;
  other_bucket.bucket = "archive";
  EXPECT_NE(publish::s3_identity(other_bucket, "anna-ben-2026"), base);
  EXPECT_NE(publish::s3_identity(r2, "moved"), base);
  auto other_store = r2;
  other_store.endpoint = "https://s3.eu-west-3.amazonaws.com";
  EXPECT_NE(publish::s3_identity(other_store, "anna-ben-2026"), base);
  net::S3Location aws;
  aws.region = "eu-west-3";
  aws.bucket = "portfolios";
  EXPECT_EQ(publish::s3_identity(aws, ""), "s3:https://s3.eu-west-3.amazonaws.com/portfolios/");
}

std::string config_error(const std::string& yaml) {
  try {
    auto parsed = config::parse_config(yaml, "wsportfolio.yaml");
    parsed.project_dir = "/tmp/anna-ben";
    config::apply_derived_defaults(parsed);
  } catch (const config::ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST(S3TargetConfig, KeysAreNamedBothOrNeither) {
  EXPECT_EQ(config_error("publish:\n  targets:\n    - { name: cdn, type: s3, bucket: b, endpoint: \"http://127.0.0.1:9000\", "
                         "path_style: true, profile: studio, max_age: 60 }\n"),
            "");
  EXPECT_NE(config_error("publish:\n  targets:\n    - { name: cdn, type: s3, bucket: b, access_key_env: S3_KEY }\n")
                .find("names both its keys"),
            std::string::npos);
  EXPECT_NE(config_error("publish:\n  targets:\n    - { name: cdn, type: s3 }\n").find("needs a bucket"),
            std::string::npos);
}

TEST(S3TargetConfig, APurgeNeedsItsIdsAndAPublicUrl) {
  const std::string target = "publish:\n  targets:\n    - { name: cdn, type: s3, bucket: b, public_url: \"https://photos.example.com\" }\n";
  EXPECT_EQ(config_error(target + "  purge: { type: cloudflare, zone_id: z, api_token_env: CF_TOKEN, "
                                  "api_base: \"http://127.0.0.1:8080/client/v4\" }\n"),
            "");
  EXPECT_EQ(config_error(target + "  purge: { type: cloudfront, distribution_id: E2 }\n"), "");
  EXPECT_EQ(config_error(target + "  purge: { type: fastly, api_token_env: FASTLY_KEY, soft: true }\n"), "");
  EXPECT_NE(config_error(target + "  purge: { type: cloudflare, api_token_env: CF_TOKEN }\n").find("zone_id"),
            std::string::npos);
  EXPECT_NE(config_error(target + "  purge: { type: cloudfront }\n").find("distribution_id"), std::string::npos);
  EXPECT_NE(config_error(target + "  purge: { type: fastly }\n").find("API token"), std::string::npos);
  EXPECT_NE(config_error("publish:\n  targets:\n    - { name: cdn, type: s3, bucket: b }\n"
                         "  purge: { type: fastly, api_token_env: FASTLY_KEY }\n")
                .find("no target has a public_url"),
            std::string::npos);
}

}  // namespace
