#pragma once
// The project's configuration: one struct whose fields carry the defaults, filled
// from wsportfolio.yaml through the key table in config.cpp. Every key of the
// specification is accepted and validated here, even for stages built later, so
// that a config written today keeps working.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wsp::config {

// A secret is never stored in the config: only where to find it.
struct SecretRef {
  std::string env;   // name of an environment variable (`*_env` keys)
  std::string file;  // path of a file holding the secret (`*_file` keys)
  bool empty() const { return env.empty() && file.empty(); }
};

struct ProjectInfo {
  std::string title;     // [the folder name]
  std::string slug;      // [from the folder name]
  std::string timezone;  // [the machine's]; EXIF times without offset are read in it
  std::string credit;
};

struct Source {
  std::string path;  // [the folder given on the command line, or .]
  bool recursive = true;
  std::vector<std::string> include{"*.jpg", "*.jpeg", "*.heic", "*.png", "*.tif", "*.tiff", "*.webp"};
  std::vector<std::string> exclude{};
};

struct Limits {
  std::int64_t max_pixels = 200'000'000;  // checked from the header, before any decode
};

struct TimelineEntry {
  std::string scene;
  int from_minute = 0;  // minutes after local midnight in project.timezone
  int to_minute = 0;    // may be smaller than from_minute: the entry runs past midnight
};

// A per-camera clock correction, matched by serial number or else by model.
struct CameraClock {
  std::string serial;
  std::string model;
  int offset_seconds = 0;
};

// Prices of a remote provider in the unit of tagging.max_cost.
struct ProviderPrices {
  double input_per_million = 0;   // per million input tokens
  double output_per_million = 0;  // per million output tokens
  double per_thousand_images = 0;  // per 1000 photos
};

struct OpenAiSettings {
  std::string model = "gpt-4o-mini";
  // No key is sent when the variable is unset or empty (local servers: Ollama, vLLM, LM Studio).
  SecretRef api_key{"OPENAI_API_KEY", ""};
  std::string base_url = "https://api.openai.com/v1";
  int concurrency = 4;            // requests in flight at once
  int requests_per_minute = 0;    // 0: no limit of ours (the server's x-ratelimit headers still count)
  std::int64_t tokens_per_minute = 0;  // 0: no limit of ours
  int timeout_seconds = 60;       // one attempt, start to end
  ProviderPrices prices;
};

// A Google Vision label (compared without case) and the scene it points to.
struct LabelScene {
  std::string label;
  std::string scene;
};

struct GoogleVisionSettings {
  SecretRef api_key{"GOOGLE_VISION_API_KEY", ""};  // sent as the `key` query parameter
  std::string base_url = "https://vision.googleapis.com/v1";
  int concurrency = 2;            // requests (of up to 16 photos each) in flight at once
  int requests_per_minute = 0;    // 0: no limit of ours
  int batch_wait_ms = 200;        // how long a batch short of 16 photos waits for more
  int timeout_seconds = 60;
  double price_per_thousand = 0;  // per 1000 photos (three features each)
  // Replaces the built-in table when given.
  std::vector<LabelScene> labels{
      {"wedding ring", "detail"}, {"ring", "detail"},        {"jewellery", "detail"},  {"bouquet", "detail"},
      {"shoe", "detail"},         {"cake", "detail"},        {"wedding cake", "detail"}, {"makeup", "getting_ready"},
      {"hairstyle", "getting_ready"}, {"mirror", "getting_ready"}, {"altar", "ceremony"}, {"aisle", "ceremony"},
      {"church", "ceremony"},     {"chapel", "ceremony"},    {"officiant", "ceremony"}, {"dance", "reception"},
      {"party", "reception"},     {"banquet", "reception"},  {"nightclub", "reception"}, {"portrait", "portrait"},
      {"portrait photography", "portrait"}, {"smile", "candid"}, {"fun", "candid"}};
};

// A word of the alt text in the gallery's language: a scene, a colour name or
// one of the words the template uses ("vertical", "and").
struct Wording {
  std::string word;
  std::string text;
};

struct TaggingSettings {
  std::vector<std::string> providers{"local"};  // fallback order
  double min_confidence = 0.6;                   // below it: needs review
  std::vector<std::string> scenes{"getting_ready", "ceremony", "portrait", "detail", "candid", "reception"};
  // Placeholders: {scene} {orientation} {colours} {people} {title} {credit}.
  std::string alt_text = "{scene} photo, {orientation}, in {colours}{people}";
  std::vector<Wording> vocabulary;  // overrides of the built-in English words
  std::string language = "English";  // of the alt text remote providers write
  std::optional<double> max_cost;  // [none] per run: remote calls stop when reached
  std::string faces = "auto";      // auto | on | off: local faces and eyes (dlib), auto when its model is installed
  OpenAiSettings openai;
  GoogleVisionSettings google_vision;
};

struct EncoderSettings {
  bool enabled = true;
  int quality = 82;
  int effort = 4;  // WebP (0-6) and AVIF (0-9)
};

struct Watermark {
  std::string text;                   // text watermark, or
  std::string image;                  // a PNG logo
  std::string font = "sans";
  double size = 0.03;                 // text height as a fraction of the image width
  std::string position = "bottom-right";
  double opacity = 0.5;
  double margin = 0.02;               // fraction of the image width
  int min_width = 960;                // smaller variants carry no watermark
};

struct RenderRecipe {
  std::vector<int> widths{480, 960, 1600, 2400};  // never upscaled
  EncoderSettings jpeg{true, 82, 4};               // progressive, optimised Huffman
  EncoderSettings webp{true, 80, 4};
  EncoderSettings avif{false, 55, 4};              // slow: off by default
  bool sharpen = true;
  std::vector<std::string> keep_metadata{"copyright", "artist"};  // GPS, serials, owners always stripped
  std::optional<Watermark> watermark;
  std::string placeholder = "blurhash";            // blurhash | lqip | none
  int analysis_size = 512;                         // the small image tagging reads
};

// The longest side, in pixels, a variant in `format` (jpeg | webp | avif) can
// have: what the format holds (WebP 16383, JPEG 65500), and for AVIF what
// libheif agrees to read back (16384).
int longest_side_of(std::string_view format);

struct PublishTarget {
  std::string name;
  std::string type;  // local | s3
  std::string path;  // local
  std::string bucket, region = "auto", endpoint, prefix;  // s3
  bool path_style = false;                                 // s3: endpoint/bucket/key instead of bucket.endpoint/key
  SecretRef access_key, secret_key;                        // s3 [else AWS_* variables, else the profile]
  std::string profile;                                     // s3: of the shared credentials file [AWS_PROFILE, default]
  std::string public_url;                                  // where visitors see the target, for CDN purges
  int max_age = 300;  // s3: seconds a page, the manifest or a style may be cached (hashed files: a year)
  int multipart_threshold_mb = 16;  // s3: larger files go up in parts, several at once, resumable
  int part_size_mb = 8;             // s3: at least 5 (S3's smallest part)
  // Which photos this target shows; the default keeps everything not rejected.
  struct Select {
    std::optional<int> min_rating;    // stars, 0..5: unrated photos count as 0
    std::vector<std::string> labels;  // colour labels, any of them (case-insensitive); empty: any
    bool picks_only = false;          // only photos tagged in Photo Mechanic (or marked best pick)
    bool best_of_bursts = false;      // of a burst or near-duplicate group, only its best pick
    bool operator==(const Select&) const = default;
  } select;
};

struct PurgeSettings {
  std::string type;  // cloudflare | cloudfront | fastly
  std::string zone_id, distribution_id, service_id;
  SecretRef api_token;     // cloudfront: the access key (api_token) and secret_key, else the AWS_* variables
  SecretRef secret_key;    // cloudfront
  std::string api_base;    // [the provider's API]
  bool soft = false;       // fastly: mark stale instead of evicting
};

struct PublishSettings {
  std::vector<PublishTarget> targets;  // [if none: a local one at .wsportfolio/public]
  std::optional<PurgeSettings> purge;
  std::string gallery_template = "default";
  std::string gallery_downloads = "none";
  // Targets and the CDN: a transfer moving slower than network.stall_bytes_per_second
  // this long is aborted and tried again; 0: network.stall_seconds.
  int stall_seconds = 0;
  int request_timeout_seconds = 300;  // targets and the CDN: cap on one attempt of one request
};

// Every remote party (targets, the CDN, webhooks, tagging providers); the
// cap on one request is each one's own (publish.request_timeout_seconds,
// webhooks[].timeout_seconds, tagging.*.timeout_seconds).
struct NetworkSettings {
  int connect_timeout_seconds = 10;
  // A transfer moving slower than stall_bytes_per_second for stall_seconds
  // is stalled: aborted, and tried again as a transient failure.
  int stall_seconds = 30;
  int stall_bytes_per_second = 1024;
};

struct Webhook {
  std::string url;
  SecretRef secret;
  std::vector<std::string> events{"publish.completed", "run.failed"};
  bool allow_http = false;  // plain http:// to a host that is not loopback
  int timeout_seconds = 10;  // per delivery attempt
};

struct PipelineSettings {
  int jobs = 0;                 // 0 = all cores
  int max_inflight_images = 0;  // 0 = 2 x jobs
  int retries = 3;              // for transient errors
};

// Where the catalog lives: empty keeps the embedded SQLite file.
struct CatalogSettings {
  std::string url;  // PostgreSQL connection URL, never with a password
};

struct WatchSettings {
  int stable_ms = 2000;
  int poll_seconds = 0;  // 0 = inotify
};

// Where a value came from, for `config show`.
struct Origin {
  std::string key;    // "render.widths", "sources[0].path"
  std::string value;  // printable, secrets masked
  std::string where;  // "default", "wsportfolio.yaml:12", "command line"
};

struct Config {
  int version = 1;
  ProjectInfo project;
  std::vector<Source> sources;  // [one: the project folder]
  Limits limits;
  std::vector<TimelineEntry> timeline;
  std::vector<CameraClock> cameras;
  TaggingSettings tagging;
  RenderRecipe render;
  PublishSettings publish;
  std::vector<Webhook> webhooks;
  // Delivered webhook deliveries older than this are pruned (the events
  // stay); zero keeps them.
  std::chrono::hours webhook_retention{24 * 30};
  PipelineSettings pipeline;
  NetworkSettings network;
  WatchSettings watch;
  CatalogSettings catalog;

  std::filesystem::path project_dir;  // the folder holding the config, or the folder given
  std::filesystem::path config_file;  // empty when running on built-in defaults
  std::vector<Origin> origins;        // every effective key, in schema order

  std::filesystem::path state_dir() const { return project_dir / ".wsportfolio"; }
  // A path as the config or the catalog writes it (relative to the project
  // folder, or absolute), made absolute.
  std::filesystem::path in_project(const std::filesystem::path& path) const {
    return (path.is_absolute() ? path : project_dir / path).lexically_normal();
  }
};

// A config error: the message names the file, the line and the key.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses YAML text into a Config on top of the defaults. Throws ConfigError.
// `file_label` is used in messages ("wsportfolio.yaml").
Config parse_config(const std::string& yaml_text, const std::string& file_label);

// Finds and loads the config as the commands do: `explicit_path` (-c), then
// $WSPORTFOLIO_CONFIG, then ./wsportfolio.yaml; with none of these, the built-in
// defaults with `folder` (or the current folder) as the project. Fills derived
// defaults (sources, local target, title, slug, timezone). Throws ConfigError.
Config load_config(const std::string& explicit_path, const std::filesystem::path& folder);

// Fills what the defaults derive from the project folder. Idempotent.
void apply_derived_defaults(Config& config);

// The commented wsportfolio.yaml that `init` writes, every key with its default.
const std::string& default_config_text();

// Resolves a secret reference; empty when not set. The value must never be logged.
std::optional<std::string> resolve_secret(const SecretRef& ref, const std::filesystem::path& project_dir);

}  // namespace wsp::config
