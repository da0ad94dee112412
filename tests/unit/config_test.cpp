#include "temp_dir.hpp"
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using wsp::config::apply_derived_defaults;
using wsp::config::Config;
using wsp::config::ConfigError;
using wsp::config::load_config;
using wsp::config::Origin;
using wsp::config::parse_config;

using wsp::testing::TempDir;

// Sets (or unsets, with nullopt) an environment variable for one test.
class ScopedEnv {
public:
  ScopedEnv(std::string name, std::optional<std::string> value) : m_name(std::move(name)) {
    if (const char* old = std::getenv(m_name.c_str())) m_saved = old;
    if (value) ::setenv(m_name.c_str(), value->c_str(), 1);
    else ::unsetenv(m_name.c_str());
  }
  ~ScopedEnv() {
    if (m_saved) ::setenv(m_name.c_str(), m_saved->c_str(), 1);
    else ::unsetenv(m_name.c_str());
  }

private:
  std::string m_name;
  std::optional<std::string> m_saved;
};

class ScopedCurrentDir {
public:
  explicit ScopedCurrentDir(const fs::path& folder) : m_saved(fs::current_path()) { fs::current_path(folder); }
  ~ScopedCurrentDir() { fs::current_path(m_saved); }

private:
  fs::path m_saved;
};

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

::testing::AssertionResult StartsWith(const std::string& text, const std::string& prefix) {
  if (text.starts_with(prefix)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not start with \"" << prefix << "\"";
}

// The ConfigError message parse_config gives for `yaml`, or "" (and a failure) when it accepts it.
std::string parse_error(const std::string& yaml, const std::string& label = "test.yaml") {
  try {
    parse_config(yaml, label);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return {};
}

const Origin* origin_of(const Config& config, const std::string& key) {
  for (const auto& origin : config.origins)
    if (origin.key == key) return &origin;
  return nullptr;
}

const std::vector<std::string> k_spec_include{"*.jpg", "*.jpeg", "*.heic", "*.png", "*.tif", "*.tiff", "*.webp"};
const std::vector<std::string> k_spec_scenes{"getting_ready", "ceremony", "portrait", "detail", "candid", "reception"};

// Compares every setting, section by section; project_dir, config_file and origins are not settings.
void expect_same_settings(const Config& a, const Config& b) {
  EXPECT_EQ(a.version, b.version);

  EXPECT_EQ(a.project.title, b.project.title);
  EXPECT_EQ(a.project.slug, b.project.slug);
  EXPECT_EQ(a.project.timezone, b.project.timezone);
  EXPECT_EQ(a.project.credit, b.project.credit);

  ASSERT_EQ(a.sources.size(), b.sources.size());
  for (std::size_t i = 0; i < a.sources.size(); ++i) {
    SCOPED_TRACE("sources[" + std::to_string(i) + "]");
    EXPECT_EQ(a.sources[i].path, b.sources[i].path);
    EXPECT_EQ(a.sources[i].recursive, b.sources[i].recursive);
    EXPECT_EQ(a.sources[i].include, b.sources[i].include);
    EXPECT_EQ(a.sources[i].exclude, b.sources[i].exclude);
  }

  EXPECT_EQ(a.limits.max_pixels, b.limits.max_pixels);
  EXPECT_EQ(a.timeline.size(), b.timeline.size());
  EXPECT_EQ(a.cameras.size(), b.cameras.size());

  EXPECT_EQ(a.tagging.providers, b.tagging.providers);
  EXPECT_DOUBLE_EQ(a.tagging.min_confidence, b.tagging.min_confidence);
  EXPECT_EQ(a.tagging.scenes, b.tagging.scenes);
  EXPECT_EQ(a.tagging.openai.model, b.tagging.openai.model);
  EXPECT_EQ(a.tagging.openai.api_key.env, b.tagging.openai.api_key.env);
  EXPECT_EQ(a.tagging.openai.api_key.file, b.tagging.openai.api_key.file);
  EXPECT_EQ(a.tagging.openai.base_url, b.tagging.openai.base_url);
  EXPECT_EQ(a.tagging.google_vision.api_key.env, b.tagging.google_vision.api_key.env);
  EXPECT_EQ(a.tagging.google_vision.api_key.file, b.tagging.google_vision.api_key.file);
  EXPECT_EQ(a.tagging.google_vision.base_url, b.tagging.google_vision.base_url);

  EXPECT_EQ(a.render.widths, b.render.widths);
  EXPECT_EQ(a.render.jpeg.enabled, b.render.jpeg.enabled);
  EXPECT_EQ(a.render.jpeg.quality, b.render.jpeg.quality);
  EXPECT_EQ(a.render.jpeg.effort, b.render.jpeg.effort);
  EXPECT_EQ(a.render.webp.enabled, b.render.webp.enabled);
  EXPECT_EQ(a.render.webp.quality, b.render.webp.quality);
  EXPECT_EQ(a.render.webp.effort, b.render.webp.effort);
  EXPECT_EQ(a.render.avif.enabled, b.render.avif.enabled);
  EXPECT_EQ(a.render.avif.quality, b.render.avif.quality);
  EXPECT_EQ(a.render.avif.effort, b.render.avif.effort);
  EXPECT_EQ(a.render.sharpen, b.render.sharpen);
  EXPECT_EQ(a.render.keep_metadata, b.render.keep_metadata);
  EXPECT_EQ(a.render.watermark.has_value(), b.render.watermark.has_value());
  EXPECT_EQ(a.render.placeholder, b.render.placeholder);
  EXPECT_EQ(a.render.analysis_size, b.render.analysis_size);

  EXPECT_EQ(a.publish.targets.size(), b.publish.targets.size());
  EXPECT_EQ(a.publish.purge.has_value(), b.publish.purge.has_value());
  EXPECT_EQ(a.publish.gallery_template, b.publish.gallery_template);
  EXPECT_EQ(a.webhooks.size(), b.webhooks.size());
  EXPECT_EQ(a.webhook_retention, b.webhook_retention);

  EXPECT_EQ(a.pipeline.jobs, b.pipeline.jobs);
  EXPECT_EQ(a.pipeline.max_inflight_images, b.pipeline.max_inflight_images);
  EXPECT_EQ(a.pipeline.retries, b.pipeline.retries);

  EXPECT_EQ(a.watch.stable_ms, b.watch.stable_ms);
  EXPECT_EQ(a.watch.poll_seconds, b.watch.poll_seconds);
}

// ---------------------------------------------------------------------------
// The embedded default

TEST(DefaultConfig, EmbeddedTextEqualsTheStructDefaults) {
  const Config defaults;
  SCOPED_TRACE("default text parsed as a user file");
  expect_same_settings(parse_config(wsp::config::default_config_text(), "wsportfolio.yaml"), defaults);
}

TEST(DefaultConfig, EmptyUserFileGivesTheStructDefaults) {
  const Config defaults;
  Config parsed = parse_config("", "test.yaml");
  expect_same_settings(parsed, defaults);
  EXPECT_TRUE(parsed.config_file.empty());
  EXPECT_TRUE(parsed.project_dir.empty());
  // A comment-only file is as good as an empty one.
  expect_same_settings(parse_config("# nothing here\n", "test.yaml"), defaults);
}

TEST(DefaultConfig, DefaultsAreTheSpecifiedValues) {
  // The specification's bracketed defaults, so that text and struct cannot drift together.
  const Config c = parse_config("", "test.yaml");
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.limits.max_pixels, 200'000'000);
  EXPECT_TRUE(c.sources.empty());
  EXPECT_EQ(c.tagging.providers, std::vector<std::string>{"local"});
  EXPECT_DOUBLE_EQ(c.tagging.min_confidence, 0.6);
  EXPECT_EQ(c.tagging.scenes, k_spec_scenes);
  EXPECT_EQ(c.tagging.openai.api_key.env, "OPENAI_API_KEY");
  EXPECT_EQ(c.tagging.google_vision.api_key.env, "GOOGLE_VISION_API_KEY");
  EXPECT_EQ(c.render.widths, (std::vector<int>{480, 960, 1600, 2400}));
  EXPECT_TRUE(c.render.jpeg.enabled);
  EXPECT_EQ(c.render.jpeg.quality, 82);
  EXPECT_TRUE(c.render.webp.enabled);
  EXPECT_EQ(c.render.webp.quality, 80);
  EXPECT_EQ(c.render.webp.effort, 4);
  EXPECT_FALSE(c.render.avif.enabled);
  EXPECT_EQ(c.render.avif.quality, 55);
  EXPECT_EQ(c.render.avif.effort, 4);
  EXPECT_TRUE(c.render.sharpen);
  EXPECT_EQ(c.render.keep_metadata, (std::vector<std::string>{"copyright", "artist"}));
  EXPECT_EQ(c.render.placeholder, "blurhash");
  EXPECT_FALSE(c.render.watermark);
  EXPECT_TRUE(c.publish.targets.empty());
  EXPECT_FALSE(c.publish.purge);
  EXPECT_EQ(c.pipeline.jobs, 0);
  EXPECT_EQ(c.pipeline.max_inflight_images, 0);
  EXPECT_EQ(c.pipeline.retries, 3);
  EXPECT_EQ(c.watch.stable_ms, 2000);
  EXPECT_EQ(c.watch.poll_seconds, 0);
}

TEST(DefaultConfig, SourceWithoutPatternsGetsTheDefaultPatterns) {
  const Config c = parse_config("sources:\n  - path: ./shoot\n", "test.yaml");
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].path, "./shoot");
  EXPECT_TRUE(c.sources[0].recursive);
  EXPECT_EQ(c.sources[0].include, k_spec_include);
  EXPECT_EQ(c.sources[0].include, wsp::config::Source{}.include);
  EXPECT_TRUE(c.sources[0].exclude.empty());
}

// ---------------------------------------------------------------------------
// Errors: file:line, the key, and what is wrong

TEST(ConfigErrors, UnknownKeyNamesLineAndSuggests) {
  auto message = parse_error("version: 1\nrender:\n  widths: [480]\n  sharpn: true\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:4: render.sharpn: unknown key 'sharpn'"));
  EXPECT_TRUE(Contains(message, "(did you mean 'sharpen'?)"));
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  auto message = parse_error("# comment\n\nprojct:\n  title: x\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:3: projct: unknown key 'projct'"));
  EXPECT_TRUE(Contains(message, "did you mean 'project'"));
}

TEST(ConfigErrors, UnknownKeyInAListItemNamesTheItem) {
  auto message = parse_error("sources:\n  - path: a\n  - path: b\n    recursiv: false\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:4: sources[1].recursiv: unknown key 'recursiv'"));
  EXPECT_TRUE(Contains(message, "did you mean 'recursive'"));
}

TEST(ConfigErrors, UnknownKeyFarFromAnyKnownHasNoSuggestion) {
  auto message = parse_error("pipeline:\n  zzzzzzzzzzzz: 1\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: pipeline.zzzzzzzzzzzz: unknown key"));
  EXPECT_FALSE(Contains(message, "did you mean"));
}

TEST(ConfigErrors, StringForAWholeNumber) {
  auto message = parse_error("pipeline:\n  retries: 3\n  jobs: four\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:3: pipeline.jobs: "));
  EXPECT_TRUE(Contains(message, "whole number"));
  EXPECT_TRUE(Contains(message, "'four'"));
}

TEST(ConfigErrors, FractionForAWholeNumber) {
  auto message = parse_error("watch:\n  stable_ms: 2.5\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: watch.stable_ms: "));
  EXPECT_TRUE(Contains(message, "whole number"));
}

TEST(ConfigErrors, MapForAList) {
  auto message = parse_error("render:\n  widths: { small: 480 }\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: render.widths: "));
  EXPECT_TRUE(Contains(message, "list"));

  message = parse_error("sources:\n  path: ./shoot\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:1: sources: "));
  EXPECT_TRUE(Contains(message, "list"));
}

TEST(ConfigErrors, ListItemThatIsNotAMapping) {
  auto message = parse_error("timeline:\n  - ceremony\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: timeline[0]: "));
  EXPECT_TRUE(Contains(message, "mapping"));
}

TEST(ConfigErrors, ScalarForAMap) {
  auto message = parse_error("render: fast\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:1: render: "));
  EXPECT_TRUE(Contains(message, "mapping"));
}

TEST(ConfigErrors, BadBoolean) {
  auto message = parse_error("render:\n  sharpen: maybe\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: render.sharpen: "));
  EXPECT_TRUE(Contains(message, "true or false"));
  EXPECT_TRUE(Contains(message, "'maybe'"));

  message = parse_error("sources:\n  - path: .\n    recursive: [yes]\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:3: sources[0].recursive: "));
}

TEST(ConfigErrors, OutOfRangeValues) {
  struct Case {
    const char* yaml;
    const char* prefix;
  };
  const Case cases[] = {
      {"render:\n  formats:\n    jpeg: { quality: 101 }\n", "test.yaml:3: render.formats.jpeg.quality: "},
      {"render:\n  widths: [480, 8]\n", "test.yaml:2: render.widths: "},
      {"tagging:\n  min_confidence: 1.5\n", "test.yaml:2: tagging.min_confidence: "},
      {"pipeline:\n  retries: -1\n", "test.yaml:2: pipeline.retries: "},
      {"limits:\n  max_pixels: 0\n", "test.yaml:2: limits.max_pixels: "},
      {"version: 2\n", "test.yaml:1: version: "},
      {"render:\n  formats:\n    avif:\n      effort: 10\n", "test.yaml:4: render.formats.avif.effort: "},
      {"render:\n  formats:\n    webp:\n      effort: 7\n", "test.yaml:4: render.formats.webp.effort: "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto message = parse_error(c.yaml);
    EXPECT_TRUE(StartsWith(message, c.prefix));
    EXPECT_TRUE(Contains(message, "out of range"));
  }
}

TEST(ConfigErrors, ValueNotAmongTheChoices) {
  auto message = parse_error("render:\n  placeholder: blurhsh\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: render.placeholder: "));
  EXPECT_TRUE(Contains(message, "did you mean 'blurhash'"));

  message = parse_error("tagging:\n  providers: [local, opnai]\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: tagging.providers: "));
  EXPECT_TRUE(Contains(message, "did you mean 'openai'"));
}

TEST(ConfigErrors, KeyWrittenTwice) {
  auto message = parse_error("pipeline:\n  jobs: 1\n  jobs: 2\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:3: pipeline.jobs: "));
  EXPECT_TRUE(Contains(message, "twice"));
}

TEST(ConfigErrors, InvalidYamlNamesTheFile) {
  auto message = parse_error("render:\n  widths: [480, 960\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:"));
  EXPECT_TRUE(Contains(message, "invalid YAML"));
}

TEST(ConfigErrors, TopLevelMustBeAMapping) {
  auto message = parse_error("- a\n- b\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:1: "));
}

// ---------------------------------------------------------------------------
// Lists

TEST(ConfigLists, NestedListsParse) {
  const Config c = parse_config(R"(sources:
  - path: ./day1
    recursive: false
    include: ["*.jpg"]
    exclude: ["**/_rejects/**"]
  - path: ./day2
timeline:
  - { scene: getting_ready, from: "11:00", to: "13:30" }
  - { scene: ceremony,      from: "13:30", to: "14:15" }
  - { scene: reception,     from: "22:00", to: "01:30" }
cameras:
  - { serial: "9000001", offset: "+00:07:30" }
  - { model: "X-T5", offset: "-01:00" }
publish:
  targets:
    - { name: site, type: local, path: ./public }
    - { name: cdn, type: s3, bucket: portfolios, region: auto, endpoint: "https://s3.example.com",
        prefix: "anna-ben-2026/", access_key_env: S3_KEY, secret_key_env: S3_SECRET }
webhooks:
  - { url: "https://hooks.example.com/portfolio", secret_env: WEBHOOK_SECRET, events: [publish.completed] }
  - { url: "http://127.0.0.1:8080/hook" }
)",
                                "test.yaml");
  ASSERT_EQ(c.sources.size(), 2u);
  EXPECT_EQ(c.sources[0].path, "./day1");
  EXPECT_FALSE(c.sources[0].recursive);
  EXPECT_EQ(c.sources[0].include, std::vector<std::string>{"*.jpg"});
  EXPECT_EQ(c.sources[0].exclude, std::vector<std::string>{"**/_rejects/**"});
  EXPECT_EQ(c.sources[1].path, "./day2");
  EXPECT_TRUE(c.sources[1].recursive);
  EXPECT_EQ(c.sources[1].include, k_spec_include);
  EXPECT_TRUE(c.sources[1].exclude.empty());

  ASSERT_EQ(c.timeline.size(), 3u);
  EXPECT_EQ(c.timeline[0].scene, "getting_ready");
  EXPECT_EQ(c.timeline[0].from_minute, 11 * 60);
  EXPECT_EQ(c.timeline[0].to_minute, 13 * 60 + 30);
  EXPECT_EQ(c.timeline[1].scene, "ceremony");
  EXPECT_EQ(c.timeline[1].from_minute, 13 * 60 + 30);
  EXPECT_EQ(c.timeline[1].to_minute, 14 * 60 + 15);
  EXPECT_EQ(c.timeline[2].from_minute, 22 * 60);
  EXPECT_EQ(c.timeline[2].to_minute, 90);

  ASSERT_EQ(c.cameras.size(), 2u);
  EXPECT_EQ(c.cameras[0].serial, "9000001");
  EXPECT_EQ(c.cameras[0].model, "");
  EXPECT_EQ(c.cameras[0].offset_seconds, 7 * 60 + 30);
  EXPECT_EQ(c.cameras[1].serial, "");
  EXPECT_EQ(c.cameras[1].model, "X-T5");
  EXPECT_EQ(c.cameras[1].offset_seconds, -3600);

  ASSERT_EQ(c.publish.targets.size(), 2u);
  EXPECT_EQ(c.publish.targets[0].name, "site");
  EXPECT_EQ(c.publish.targets[0].type, "local");
  EXPECT_EQ(c.publish.targets[0].path, "./public");
  const auto& cdn = c.publish.targets[1];
  EXPECT_EQ(cdn.name, "cdn");
  EXPECT_EQ(cdn.type, "s3");
  EXPECT_EQ(cdn.bucket, "portfolios");
  EXPECT_EQ(cdn.region, "auto");
  EXPECT_EQ(cdn.endpoint, "https://s3.example.com");
  EXPECT_EQ(cdn.prefix, "anna-ben-2026/");
  EXPECT_EQ(cdn.access_key.env, "S3_KEY");
  EXPECT_EQ(cdn.secret_key.env, "S3_SECRET");
  EXPECT_TRUE(cdn.access_key.file.empty());

  ASSERT_EQ(c.webhooks.size(), 2u);
  EXPECT_EQ(c.webhooks[0].url, "https://hooks.example.com/portfolio");
  EXPECT_EQ(c.webhooks[0].secret.env, "WEBHOOK_SECRET");
  EXPECT_EQ(c.webhooks[0].events, std::vector<std::string>{"publish.completed"});
  EXPECT_EQ(c.webhooks[1].url, "http://127.0.0.1:8080/hook");
  EXPECT_TRUE(c.webhooks[1].secret.empty());
  EXPECT_EQ(c.webhooks[1].events, (std::vector<std::string>{"publish.completed", "run.failed"}));
}

TEST(ConfigLists, UserListReplacesTheDefaultList) {
  const Config c = parse_config(R"(tagging:
  providers: [openai, local]
  scenes: [ceremony, first_dance]
render:
  widths: [2000, 800, 800]
  metadata:
    keep: [copyright]
)",
                                "test.yaml");
  EXPECT_EQ(c.tagging.providers, (std::vector<std::string>{"openai", "local"}));
  EXPECT_EQ(c.tagging.scenes, (std::vector<std::string>{"ceremony", "first_dance"}));
  EXPECT_EQ(c.render.widths, (std::vector<int>{800, 2000}));  // sorted, without repeats
  EXPECT_EQ(c.render.keep_metadata, std::vector<std::string>{"copyright"});
}

TEST(ConfigLists, EmptyListOfWidthsIsAnError) {
  auto message = parse_error("render:\n  widths: []\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: render.widths: "));
}

TEST(ConfigLists, OptionalSectionsAppearOnlyWhenWritten) {
  const Config c = parse_config(R"(render:
  watermark: { text: "(c) Studio", position: top-left, opacity: 0.25 }
publish:
  purge: { type: cloudflare, zone_id: "abc", api_token_env: CF_TOKEN }
)",
                                "test.yaml");
  ASSERT_TRUE(c.render.watermark);
  EXPECT_EQ(c.render.watermark->text, "(c) Studio");
  EXPECT_EQ(c.render.watermark->position, "top-left");
  EXPECT_DOUBLE_EQ(c.render.watermark->opacity, 0.25);
  EXPECT_EQ(c.render.watermark->min_width, 960);  // untouched keys keep their defaults
  ASSERT_TRUE(c.publish.purge);
  EXPECT_EQ(c.publish.purge->type, "cloudflare");
  EXPECT_EQ(c.publish.purge->zone_id, "abc");
  EXPECT_EQ(c.publish.purge->api_token.env, "CF_TOKEN");
}

// ---------------------------------------------------------------------------
// Clock times, offsets, time zones

TEST(ConfigClock, TimesBecomeMinutesAfterMidnight) {
  const Config c = parse_config(R"(timeline:
  - { scene: a, from: "13:30", to: "00:00" }
  - { scene: b, from: "9:05", to: "23:59" }
)",
                                "test.yaml");
  ASSERT_EQ(c.timeline.size(), 2u);
  EXPECT_EQ(c.timeline[0].from_minute, 810);
  EXPECT_EQ(c.timeline[0].to_minute, 0);
  EXPECT_EQ(c.timeline[1].from_minute, 545);
  EXPECT_EQ(c.timeline[1].to_minute, 1439);
}

TEST(ConfigClock, BadTimesAreErrors) {
  for (const char* bad : {"24:00", "13:60", "1330", "13:3", "13:30:00", "noon", "-1:00"}) {
    SCOPED_TRACE(bad);
    auto message = parse_error(std::string("timeline:\n  - scene: a\n    from: \"") + bad + "\"\n");
    EXPECT_TRUE(StartsWith(message, "test.yaml:3: timeline[0].from: "));
  }
}

TEST(ConfigClock, OffsetsBecomeSignedSeconds) {
  const Config c = parse_config(R"(cameras:
  - { serial: "1", offset: "+00:07:30" }
  - { serial: "2", offset: "-01:00" }
  - { serial: "3", offset: "+2:00" }
  - { serial: "4", offset: "-00:00:05" }
)",
                                "test.yaml");
  ASSERT_EQ(c.cameras.size(), 4u);
  EXPECT_EQ(c.cameras[0].offset_seconds, 450);
  EXPECT_EQ(c.cameras[1].offset_seconds, -3600);
  EXPECT_EQ(c.cameras[2].offset_seconds, 7200);
  EXPECT_EQ(c.cameras[3].offset_seconds, -5);
}

TEST(ConfigClock, BadOffsetsAreErrors) {
  for (const char* bad : {"00:07:30", "+00:60", "+00:07:60", "+7", "plus one hour"}) {
    SCOPED_TRACE(bad);
    auto message = parse_error(std::string("cameras:\n  - serial: \"1\"\n    offset: \"") + bad + "\"\n");
    EXPECT_TRUE(StartsWith(message, "test.yaml:3: cameras[0].offset: "));
  }
}

TEST(ConfigTimezone, KnownZonesAreAccepted) {
  EXPECT_EQ(parse_config("project:\n  timezone: Europe/Paris\n", "test.yaml").project.timezone, "Europe/Paris");
  EXPECT_EQ(parse_config("project:\n  timezone: UTC\n", "test.yaml").project.timezone, "UTC");
  EXPECT_EQ(parse_config("project:\n  timezone: America/Argentina/Buenos_Aires\n", "test.yaml").project.timezone,
            "America/Argentina/Buenos_Aires");
}

TEST(ConfigTimezone, UnknownZonesAreRejected) {
  for (const char* bad : {"Mars/Olympus_Mons", "Europe/Pariss", "../../etc/passwd", "/etc/localtime", "Paris France"}) {
    SCOPED_TRACE(bad);
    auto message = parse_error(std::string("project:\n  timezone: \"") + bad + "\"\n");
    EXPECT_TRUE(StartsWith(message, "test.yaml:2: project.timezone: "));
    EXPECT_TRUE(Contains(message, "time zone"));
  }
}

TEST(ConfigTimezone, AFolderOfTheZoneDatabaseIsNotAZone) {
  // "Europe" exists under /usr/share/zoneinfo, but as a folder, not a zone.
  auto message = parse_error("project:\n  timezone: Europe\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: project.timezone: "));
}

// ---------------------------------------------------------------------------
// Secrets

TEST(ConfigSecrets, InlineApiKeyIsRejectedWithoutEchoingIt) {
  const std::string secret = "sk-live-4f9a8b7c6d5e4f3a2b1c";
  auto message = parse_error("tagging:\n  openai:\n    model: gpt-4o-mini\n    api_key: " + secret + "\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:4: tagging.openai.api_key: unknown key 'api_key'"));
  EXPECT_TRUE(Contains(message, "did you mean 'api_key_env'"));
  EXPECT_TRUE(Contains(message, "environment variable"));
  EXPECT_FALSE(Contains(message, secret));
  EXPECT_FALSE(Contains(message, "4f9a8b7c"));
}

TEST(ConfigSecrets, InlineSecretInAListItemIsRejectedWithoutEchoingIt) {
  const std::string secret = "whsec_9d8c7b6a5f4e3d2c1b0a";
  auto message = parse_error("webhooks:\n  - url: \"https://hooks.example.com/x\"\n    secret: " + secret + "\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:3: webhooks[0].secret: unknown key 'secret'"));
  EXPECT_FALSE(Contains(message, secret));
}

TEST(ConfigSecrets, EnvNameThatLooksLikeASecretIsRejectedWithoutEchoingIt) {
  struct Case {
    std::string yaml;
    std::string prefix;
  };
  const std::string secret = "sk-abc/123";
  const Case cases[] = {
      {"tagging:\n  openai:\n    api_key_env: \"" + secret + "\"\n", "test.yaml:3: tagging.openai.api_key_env: "},
      {"tagging:\n  google_vision:\n    api_key_env: \"" + secret + "\"\n",
       "test.yaml:3: tagging.google_vision.api_key_env: "},
      {"publish:\n  targets:\n    - name: cdn\n      type: s3\n      secret_key_env: \"" + secret + "\"\n",
       "test.yaml:5: publish.targets[0].secret_key_env: "},
      {"webhooks:\n  - url: \"https://h.example.com/\"\n    secret_env: \"" + secret + "\"\n",
       "test.yaml:3: webhooks[0].secret_env: "},
      {"publish:\n  purge: { type: fastly, api_token_env: \"" + secret + "\" }\n", "test.yaml:2: publish.purge.api_token_env: "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto message = parse_error(c.yaml);
    EXPECT_TRUE(StartsWith(message, c.prefix));
    EXPECT_FALSE(Contains(message, secret));
    EXPECT_FALSE(Contains(message, "sk-abc"));
  }
}

TEST(ConfigSecrets, CredentialsInAUrlAreRejectedWithoutEchoingThem) {
  auto message = parse_error("tagging:\n  openai:\n    base_url: \"https://user:sk-pass-77@api.example.com/v1\"\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:3: tagging.openai.base_url: "));
  EXPECT_FALSE(Contains(message, "sk-pass-77"));
}

TEST(ConfigSecrets, OriginsShowWhetherAnEnvVarIsSetNeverItsValue) {
  const std::string secret = "sk-test-value-that-must-never-show-42";
  ScopedEnv set_var("WSP_TEST_OPENAI_KEY", secret);
  ScopedEnv unset_var("WSP_TEST_UNSET_KEY", std::nullopt);
  ScopedEnv s3_var("WSP_TEST_S3_SECRET", secret);
  const Config c = parse_config(R"(tagging:
  openai:
    api_key_env: WSP_TEST_OPENAI_KEY
  google_vision:
    api_key_env: WSP_TEST_UNSET_KEY
publish:
  targets:
    - { name: cdn, type: s3, bucket: b, access_key_env: WSP_TEST_S3_SECRET, secret_key_env: WSP_TEST_S3_SECRET }
)",
                                "test.yaml");
  const Origin* openai = origin_of(c, "tagging.openai.api_key_env");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->value, "WSP_TEST_OPENAI_KEY (set)");
  EXPECT_EQ(openai->where, "test.yaml:3");
  const Origin* google = origin_of(c, "tagging.google_vision.api_key_env");
  ASSERT_NE(google, nullptr);
  EXPECT_EQ(google->value, "WSP_TEST_UNSET_KEY (not set)");
  const Origin* s3 = origin_of(c, "publish.targets[0].secret_key_env");
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(s3->value, "WSP_TEST_S3_SECRET (set)");
  for (const auto& origin : c.origins) {
    SCOPED_TRACE(origin.key);
    EXPECT_FALSE(Contains(origin.key, secret));
    EXPECT_FALSE(Contains(origin.value, secret));
    EXPECT_FALSE(Contains(origin.where, secret));
  }
  // The value itself is there for whoever resolves it on purpose.
  EXPECT_EQ(wsp::config::resolve_secret(c.tagging.openai.api_key, "/"), std::optional<std::string>(secret));
  EXPECT_EQ(wsp::config::resolve_secret(c.tagging.google_vision.api_key, "/"), std::nullopt);
}

TEST(ConfigSecrets, ResolvesASecretFromAFileRelativeToTheProject) {
  TempDir dir;
  write_text(dir.path() / "keys" / "openai.txt", "sk-from-file\n");
  const Config c = parse_config("tagging:\n  openai:\n    api_key_env: WSP_TEST_UNSET_KEY\n    api_key_file: keys/openai.txt\n",
                                "test.yaml");
  ScopedEnv unset_var("WSP_TEST_UNSET_KEY", std::nullopt);
  EXPECT_EQ(wsp::config::resolve_secret(c.tagging.openai.api_key, dir.path()),
            std::optional<std::string>("sk-from-file"));
  const Origin* file = origin_of(c, "tagging.openai.api_key_file");
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(Contains(file->value, "sk-from-file"));
}

// ---------------------------------------------------------------------------
// Origins

TEST(ConfigOrigins, UserKeysHaveFileAndLineOthersSayDefault) {
  const Config c = parse_config("# a comment\nrender:\n  sharpen: false\npipeline:\n  retries: 5\n", "studio.yaml");
  const Origin* sharpen = origin_of(c, "render.sharpen");
  ASSERT_NE(sharpen, nullptr);
  EXPECT_EQ(sharpen->where, "studio.yaml:3");
  EXPECT_EQ(sharpen->value, "false");
  const Origin* retries = origin_of(c, "pipeline.retries");
  ASSERT_NE(retries, nullptr);
  EXPECT_EQ(retries->where, "studio.yaml:5");
  EXPECT_EQ(retries->value, "5");
  // Each key appears once, even when the user file overrides a default.
  EXPECT_EQ(std::count_if(c.origins.begin(), c.origins.end(), [](const Origin& o) { return o.key == "render.sharpen"; }),
            1);

  for (const char* key : {"render.widths", "pipeline.jobs", "watch.stable_ms", "tagging.min_confidence"}) {
    SCOPED_TRACE(key);
    const Origin* origin = origin_of(c, key);
    ASSERT_NE(origin, nullptr);
    EXPECT_EQ(origin->where, "default");
  }
  for (const auto& origin : c.origins) {
    SCOPED_TRACE(origin.key);
    EXPECT_TRUE(origin.where == "default" || origin.where.starts_with("studio.yaml:")) << origin.where;
  }
}

TEST(ConfigOrigins, ListItemsCarryTheirIndexAndLine) {
  const Config c = parse_config("sources:\n  - path: ./a\n  - path: ./b\n    recursive: false\n", "test.yaml");
  const Origin* second = origin_of(c, "sources[1].path");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->value, "./b");
  EXPECT_EQ(second->where, "test.yaml:3");
  const Origin* recursive = origin_of(c, "sources[1].recursive");
  ASSERT_NE(recursive, nullptr);
  EXPECT_EQ(recursive->where, "test.yaml:4");
}

TEST(ConfigOrigins, DefaultSecretEnvNamesAreMaskedToo) {
  const Config c = parse_config("", "test.yaml");
  const Origin* openai = origin_of(c, "tagging.openai.api_key_env");
  ASSERT_NE(openai, nullptr);
  const char* value = std::getenv("OPENAI_API_KEY");
  EXPECT_EQ(openai->value, value ? "OPENAI_API_KEY (set)" : "OPENAI_API_KEY (not set)");
}

// ---------------------------------------------------------------------------
// Derived defaults

TEST(DerivedDefaults, FillSourceTargetTitleSlugAndTimezone) {
  TempDir dir;
  const auto folder = dir.path() / "Anna & Ben — 13 June 2026";
  fs::create_directories(folder);
  Config c = parse_config("", "test");
  c.project_dir = folder;
  apply_derived_defaults(c);
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].path, ".");
  EXPECT_TRUE(c.sources[0].recursive);
  EXPECT_EQ(c.sources[0].include, k_spec_include);
  ASSERT_EQ(c.publish.targets.size(), 1u);
  EXPECT_EQ(c.publish.targets[0].type, "local");
  EXPECT_EQ(c.publish.targets[0].path, ".wsportfolio/public");
  EXPECT_FALSE(c.publish.targets[0].name.empty());
  EXPECT_EQ(c.project.title, "Anna & Ben — 13 June 2026");
  EXPECT_EQ(c.project.slug, "anna-ben-13-june-2026");
  EXPECT_FALSE(c.project.timezone.empty());
  EXPECT_EQ(c.state_dir(), folder / ".wsportfolio");

  const Origin* slug = origin_of(c, "project.slug");
  ASSERT_NE(slug, nullptr);
  EXPECT_EQ(slug->value, "anna-ben-13-june-2026");
  EXPECT_EQ(slug->where, "derived");

  // Idempotent: a second pass adds nothing.
  apply_derived_defaults(c);
  EXPECT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.publish.targets.size(), 1u);
  EXPECT_EQ(c.project.slug, "anna-ben-13-june-2026");
}

TEST(DerivedDefaults, KeepWhatTheUserWrote) {
  TempDir dir;
  Config c = parse_config(R"(project:
  title: "Our Day"
  slug: our-day
  timezone: Europe/Paris
sources:
  - path: ./shoot
publish:
  targets:
    - { name: site, type: local, path: ./public }
)",
                          "test");
  c.project_dir = dir.path();
  apply_derived_defaults(c);
  EXPECT_EQ(c.project.title, "Our Day");
  EXPECT_EQ(c.project.slug, "our-day");
  EXPECT_EQ(c.project.timezone, "Europe/Paris");
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].path, "./shoot");
  ASSERT_EQ(c.publish.targets.size(), 1u);
  EXPECT_EQ(c.publish.targets[0].path, "./public");
}

TEST(DerivedDefaults, SlugOfAFolderWithoutLettersFallsBack) {
  TempDir dir;
  fs::create_directories(dir.path() / "---");
  Config c = parse_config("", "test");
  c.project_dir = dir.path() / "---";
  apply_derived_defaults(c);
  EXPECT_FALSE(c.project.slug.empty());
  EXPECT_EQ(c.project.slug.find('-'), std::string::npos);
}

TEST(DerivedDefaults, TimelineSceneMustBeAKnownScene) {
  TempDir dir;
  Config c = parse_config("timeline:\n  - { scene: first_dance, from: \"20:00\", to: \"21:00\" }\n", "test.yaml");
  c.project_dir = dir.path();
  try {
    apply_derived_defaults(c);
    ADD_FAILURE() << "a timeline scene outside tagging.scenes was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(Contains(e.what(), "timeline[0].scene"));
    EXPECT_TRUE(Contains(e.what(), "first_dance"));
    EXPECT_TRUE(Contains(e.what(), "tagging.scenes"));
  }

  Config ok = parse_config(
      "tagging:\n  scenes: [ceremony, first_dance]\ntimeline:\n  - { scene: first_dance, from: \"20:00\", to: \"21:00\" }\n",
      "test.yaml");
  ok.project_dir = dir.path();
  EXPECT_NO_THROW(apply_derived_defaults(ok));
}

TEST(DerivedDefaults, TimelineErrorFromAFileNamesTheFile) {
  TempDir dir;
  write_text(dir.path() / "wsportfolio.yaml", "timeline:\n  - { scene: first_dance, from: \"20:00\", to: \"21:00\" }\n");
  try {
    load_config((dir.path() / "wsportfolio.yaml").string(), {});
    ADD_FAILURE() << "a timeline scene outside tagging.scenes was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(Contains(e.what(), (dir.path() / "wsportfolio.yaml").string()));
    EXPECT_TRUE(Contains(e.what(), "timeline[0].scene"));
  }
}

TEST(DerivedDefaults, IncompleteSettingsAreErrors) {
  TempDir dir;
  const char* cases[] = {
      "publish:\n  targets:\n    - { name: cdn, type: s3, bucket: b, access_key_env: K }\n",  // a key without its secret
      "publish:\n  targets:\n    - { name: site, type: local }\n",               // no path
      "publish:\n  targets:\n    - { type: local, path: ./public }\n",           // no name
      "cameras:\n  - { offset: \"+00:01\" }\n",                                    // neither serial nor model
      "render:\n  watermark: { opacity: 0.5 }\n",                                  // no text, no image
      "render:\n  formats:\n    jpeg: { enabled: false }\n    webp: { enabled: false }\n",  // nothing to render
  };
  for (const char* yaml : cases) {
    SCOPED_TRACE(yaml);
    Config c = parse_config(yaml, "test.yaml");
    c.project_dir = dir.path();
    EXPECT_THROW(apply_derived_defaults(c), ConfigError);
  }
}

// WebP holds at most 16383 px a side: a width over it would fail every photo
// at render time, so the config says so first, at the line of render.widths.
TEST(DerivedDefaults, AWidthAnEnabledFormatCannotHoldIsAnErrorAtItsLine) {
  TempDir dir;
  write_text(dir.path() / "wsportfolio.yaml", "project:\n  title: t\nrender:\n  widths: [960, 16384]\n");
  try {
    load_config((dir.path() / "wsportfolio.yaml").string(), {});
    ADD_FAILURE() << "a 16384 px width was accepted with WebP enabled";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(Contains(e.what(), (dir.path() / "wsportfolio.yaml").string() + ":4: render.widths"));
    EXPECT_TRUE(Contains(e.what(), "WebP"));
    EXPECT_TRUE(Contains(e.what(), "16383"));
  }

  Config jpeg_only = parse_config("render:\n  widths: [16384]\n  formats:\n    webp: { enabled: false }\n",
                                  "test.yaml");
  jpeg_only.project_dir = dir.path();
  EXPECT_NO_THROW(apply_derived_defaults(jpeg_only)) << "JPEG holds 16384 px";
  Config at_limit = parse_config("render:\n  widths: [16383]\n", "test.yaml");
  at_limit.project_dir = dir.path();
  EXPECT_NO_THROW(apply_derived_defaults(at_limit));
}

// The watermark is drawn by Pango, which takes only UTF-8: a config saved in
// Latin-1 ("\xA9 Studio") would fail every watermarked variant, so config check
// refuses it at its line.
TEST(ConfigErrors, WatermarkTextThatIsNotUtf8NamesTheLine) {
  std::string message = parse_error("project:\n  title: t\nrender:\n  watermark: { text: \"\xA9 Studio\" }\n", "test.yaml");
  EXPECT_TRUE(Contains(message, "test.yaml:4: render.watermark.text")) << message;
  EXPECT_TRUE(Contains(message, "UTF-8")) << message;
  EXPECT_FALSE(Contains(message, "\xA9")) << "the invalid byte is not echoed";
  for (const char* text : {"\xC2\xA9 Smith & Jones", "Ana <3 Ben", "\xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x93\xB7"}) {
    SCOPED_TRACE(text);
    Config c = parse_config(std::string("render:\n  watermark: { text: \"") + text + "\" }\n", "test.yaml");
    EXPECT_EQ(c.render.watermark->text, text);
  }
  for (const char* bad : {"\xC2", "\xE6\x9D", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    SCOPED_TRACE(testing::PrintToString(std::string(bad)));
    EXPECT_TRUE(Contains(parse_error(std::string("render:\n  watermark: { text: \"a") + bad + "\" }\n", "t.yaml"), "UTF-8"));
  }
}

// ---------------------------------------------------------------------------
// Finding the config

class LoadConfig : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char* name : {"explicit", "envdir", "project", "cwd", "empty"}) fs::create_directories(m_dir.path() / name);
    write_text(m_dir.path() / "explicit" / "custom.yaml", "project:\n  title: from-explicit\n");
    write_text(m_dir.path() / "envdir" / "wsportfolio.yaml", "project:\n  title: from-env\n");
    write_text(m_dir.path() / "project" / "wsportfolio.yaml", "project:\n  title: from-folder\n");
    write_text(m_dir.path() / "cwd" / "wsportfolio.yaml", "project:\n  title: from-cwd\n");
  }
  fs::path at(const char* name) const { return m_dir.path() / name; }

  TempDir m_dir;
};

TEST_F(LoadConfig, SearchOrder) {
  ScopedCurrentDir cwd(at("cwd"));
  ScopedEnv env("WSPORTFOLIO_CONFIG", (at("envdir") / "wsportfolio.yaml").string());

  Config c = load_config((at("explicit") / "custom.yaml").string(), at("project"));
  EXPECT_EQ(c.project.title, "from-explicit");
  EXPECT_EQ(c.config_file, at("explicit") / "custom.yaml");
  EXPECT_EQ(c.project_dir, at("explicit"));

  c = load_config("", at("project"));
  EXPECT_EQ(c.project.title, "from-env");
  EXPECT_EQ(c.project_dir, at("envdir"));

  {
    ScopedEnv no_env("WSPORTFOLIO_CONFIG", std::nullopt);
    c = load_config("", at("project"));
    EXPECT_EQ(c.project.title, "from-folder");
    EXPECT_EQ(c.config_file, at("project") / "wsportfolio.yaml");
    EXPECT_EQ(c.project_dir, at("project"));

    c = load_config("", at("empty"));
    EXPECT_EQ(c.project.title, "from-cwd");
    EXPECT_EQ(c.config_file, at("cwd") / "wsportfolio.yaml");
    EXPECT_EQ(c.project_dir, at("cwd"));

    c = load_config("", {});
    EXPECT_EQ(c.project.title, "from-cwd");

    fs::remove(at("cwd") / "wsportfolio.yaml");
    c = load_config("", at("empty"));
    EXPECT_TRUE(c.config_file.empty());
    EXPECT_EQ(c.project_dir, at("empty"));
    EXPECT_EQ(c.project.title, "empty");
    ASSERT_EQ(c.sources.size(), 1u);
    EXPECT_EQ(c.sources[0].path, ".");
    ASSERT_EQ(c.publish.targets.size(), 1u);
    EXPECT_EQ(c.publish.targets[0].path, ".wsportfolio/public");

    c = load_config("", {});
    EXPECT_TRUE(c.config_file.empty());
    EXPECT_EQ(c.project_dir, at("cwd"));
  }
}

TEST_F(LoadConfig, EmptyEnvironmentVariableIsIgnored) {
  ScopedCurrentDir cwd(at("cwd"));
  ScopedEnv env("WSPORTFOLIO_CONFIG", "");
  EXPECT_EQ(load_config("", at("project")).project.title, "from-folder");
}

TEST_F(LoadConfig, RelativeFolderAndTrailingSlash) {
  ScopedCurrentDir cwd(m_dir.path());
  ScopedEnv no_env("WSPORTFOLIO_CONFIG", std::nullopt);
  Config c = load_config("", "project");
  EXPECT_EQ(c.project.title, "from-folder");
  EXPECT_EQ(c.project_dir, at("project"));
  EXPECT_TRUE(c.project_dir.is_absolute());

  c = load_config("", "empty/");
  EXPECT_TRUE(c.config_file.empty());
  EXPECT_EQ(c.project_dir, at("empty"));
  EXPECT_EQ(c.project.slug, "empty");
}

TEST_F(LoadConfig, MissingExplicitFileIsAnError) {
  ScopedCurrentDir cwd(at("cwd"));
  ScopedEnv no_env("WSPORTFOLIO_CONFIG", std::nullopt);
  const auto missing = (at("explicit") / "nope.yaml").string();
  try {
    load_config(missing, at("project"));
    ADD_FAILURE() << "a missing -c file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(Contains(e.what(), missing));
  }
}

TEST_F(LoadConfig, MissingEnvFileIsAnErrorNotAFallback) {
  ScopedCurrentDir cwd(at("cwd"));
  ScopedEnv env("WSPORTFOLIO_CONFIG", (at("envdir") / "gone.yaml").string());
  EXPECT_THROW(load_config("", at("project")), ConfigError);
}

TEST_F(LoadConfig, ErrorsInTheFileNameItAndTheLine) {
  ScopedCurrentDir cwd(at("cwd"));
  ScopedEnv no_env("WSPORTFOLIO_CONFIG", std::nullopt);
  const auto file = at("explicit") / "bad.yaml";
  write_text(file, "project:\n  title: x\nrender:\n  widths: [480]\n  sharpen: sometimes\n");
  try {
    load_config(file.string(), {});
    ADD_FAILURE() << "a bad boolean was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(StartsWith(e.what(), file.string() + ":5: render.sharpen: "));
  }
}

}  // namespace

namespace {

TEST(FacesSetting, AutoByDefaultOnOrOffWhenSaidAndNothingElse) {
  EXPECT_EQ(parse_config("version: 1\n", "test.yaml").tagging.faces, "auto");
  EXPECT_EQ(parse_config("tagging: { faces: off }\n", "test.yaml").tagging.faces, "off");
  EXPECT_EQ(parse_config("tagging: { faces: on }\n", "test.yaml").tagging.faces, "on");
  auto message = parse_error("tagging:\n  faces: yes please\n");
  EXPECT_TRUE(StartsWith(message, "test.yaml:2: tagging.faces: ")) << message;
  EXPECT_TRUE(Contains(message, "auto, on, off")) << message;
}

}  // namespace
