#include "pipeline/publish.hpp"
#include "pipeline/selection.hpp"
#include "publish/selection.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <map>
#include <set>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "imaging/original.hpp"
#include "imaging/placeholder.hpp"
#include "pipeline/leases.hpp"
#include "pipeline/render.hpp"
#include "pipeline/scan.hpp"
#include "pipeline/tag.hpp"
#include "net/http.hpp"
#include "net/s3.hpp"
#include "publish/gallery.hpp"
#include "publish/purge.hpp"
#include "publish/s3_target.hpp"
#include "publish/target.hpp"
#include "tagging/tagger.hpp"
#include "tagging/timeline.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;
using publish::PlanAction;

namespace {

constexpr std::string_view k_stage = "publish";

// "13 June 2026": the day of `utc_ms` in the project's time zone.
std::string date_of(std::int64_t utc_ms, const std::string& timezone) {
  static constexpr const char* k_months[] = {"January", "February", "March",     "April",   "May",      "June",
                                             "July",    "August",   "September", "October", "November", "December"};
  const auto day = tagging::TimeZone::load(timezone).value_or(tagging::TimeZone::utc()).civil_time(utc_ms);
  return fmt::format("{} {} {}", day.day, k_months[day.month - 1], day.year);
}

// The sections in the order of the day: scenes as the timeline first names
// them, then the rest of tagging.scenes.
std::vector<publish::SceneLabel> scene_order(const config::Config& config) {
  std::vector<publish::SceneLabel> scenes;
  std::set<std::string> seen;
  auto add = [&](const std::string& scene) {
    if (seen.insert(scene).second) scenes.push_back({scene, util::capitalised(tagging::word(config, scene))});
  };
  for (const auto& entry : config.timeline) add(entry.scene);
  for (const auto& scene : config.tagging.scenes) add(scene);
  return scenes;
}

publish::GalleryTemplate gallery_template(const config::Config& config) {
  if (config.publish.gallery_template == "default") return publish::default_gallery_template();
  auto loaded = publish::load_gallery_template(config.in_project(config.publish.gallery_template));
  if (!loaded) throw config::ConfigError(fmt::format("publish.gallery.template: {}", loaded.message()));
  return std::move(*loaded);
}

// "9f86d0..." -> "n4bQgY...": how S3 writes a SHA-256 checksum.
std::string hex_to_base64(std::string_view hex) {
  std::vector<unsigned char> bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<unsigned char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  std::string encoded(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  encoded.resize(static_cast<std::size_t>(std::max(written, 0)));
  return encoded;
}

// The original of a photo as the gallery offers it, "originals/STEM.HASH.ext":
// made once per source content and metadata policy into the state folder's
// originals/, with a small record beside it, so that later publishes find it
// without reading the source again. Nothing, and a problem, when the source
// changed since it was ingested or its metadata cannot be rewritten.
std::optional<PortfolioFile> offered_original(const config::Config& config, const std::string& source_path,
                                              const std::string& source_sha256, const std::string& stem,
                                              std::vector<std::string>& problems) {
  const fs::path folder = config.state_dir() / "originals";
  const std::string extension = util::ascii_lower(fs::path(source_path).extension().string());
  const std::string policy = util::sha256_hex(imaging::original_policy(config.render)).substr(0, 12);
  const fs::path record = folder / fmt::format("{}-{}.json", source_sha256, policy);
  auto offered = [&](const std::string& sha256, std::int64_t size) {
    return PortfolioFile{{fmt::format("originals/{}.{}{}", stem, sha256.substr(0, 12), extension), sha256, size},
                         {},
                         folder / (sha256 + extension)};
  };
  if (auto text = util::read_text_file(record); text.ok()) {
    auto made = nlohmann::json::parse(*text, nullptr, false);
    if (made.is_object() && made.value("sha256", "").size() == 64 &&
        fs::exists(folder / (made.value("sha256", "") + extension)))
      return offered(made.value("sha256", ""), made.value("size", std::int64_t{0}));
  }
  auto problem = [&](const std::string& why) {
    problems.push_back(fmt::format("{}: its original is not offered for download: {}", source_path, why));
    return std::nullopt;
  };
  // Made in a temporary beside the result, through files rather than in
  // memory: an original can be a few hundred megabytes.
  std::error_code ignored;
  fs::create_directories(folder, ignored);
  const fs::path temporary =
      util::temporary_path(folder / fmt::format("{}-{}-{}{}", source_sha256, policy, stem, extension));
  auto abandon = [&](const std::string& why) {
    fs::remove(temporary, ignored);
    return problem(why);
  };
  auto copied = util::copy_file_hashed(config.in_project(source_path), temporary);
  if (!copied) return abandon(copied.message());
  if (*copied != source_sha256) return abandon("the file changed since it was ingested; run `wsportfolio run`");
  if (auto made = imaging::make_published_original(temporary, config.render); !made) return abandon(made.message());
  auto sha256 = util::sha256_of_file(temporary);
  if (!sha256) return abandon(sha256.message());
  std::error_code unsized;
  const auto size = static_cast<std::int64_t>(fs::file_size(temporary, unsized));
  if (unsized) return abandon(fmt::format("{}: {}", temporary.string(), unsized.message()));
  if (auto placed = util::place_file_atomically(temporary, folder / (*sha256 + extension)); !placed)
    return problem(placed.message());
  const nlohmann::json made = {{"sha256", *sha256}, {"size", size}};
  if (auto written = util::write_file_atomically(record, made.dump()); !written) return problem(written.message());
  return offered(*sha256, size);
}

// How targets and the CDN are reached: network's timeouts, publish's own
// stall time and cap on one request where set.
net::HttpSettings publish_http_settings(const config::Config& config) {
  net::HttpSettings settings;
  settings.retry.retries = config.pipeline.retries;
  settings.connect_timeout = std::chrono::seconds(config.network.connect_timeout_seconds);
  settings.low_speed_bytes = config.network.stall_bytes_per_second;
  settings.low_speed_time = std::chrono::seconds(config.publish.stall_seconds > 0 ? config.publish.stall_seconds
                                                                                  : config.network.stall_seconds);
  settings.request_timeout = std::chrono::seconds(config.publish.request_timeout_seconds);
  return settings;
}

net::S3Location s3_location(const config::PublishTarget& target) {
  net::S3Location location;
  location.endpoint = target.endpoint;
  // "auto" is R2's region; AWS's own endpoints need a real one.
  location.region = target.region == "auto" && target.endpoint.empty() ? "us-east-1" : target.region;
  location.bucket = target.bucket;
  location.path_style = target.path_style;
  return location;
}

// Where an S3 target's keys come from: its env vars or files, else its profile.
net::CredentialSource credential_source(const config::Config& config, const config::PublishTarget& target) {
  net::CredentialSource source;
  source.access_key_env = target.access_key.env;
  source.secret_key_env = target.secret_key.env;
  if (!target.access_key.file.empty()) source.access_key_file = config.in_project(target.access_key.file);
  if (!target.secret_key.file.empty()) source.secret_key_file = config.in_project(target.secret_key.file);
  source.profile = target.profile;
  return source;
}

// An S3 target's client for the checks made outside a publish (verify).
struct S3Connection {
  S3Connection(const config::Config& config, const config::PublishTarget& target, const net::AwsCredentials& keys)
      : http(publish_http_settings(config)), client(http, s3_location(target), keys) {}
  net::HttpClient http;
  net::S3Client client;
};

util::Result<std::unique_ptr<S3Connection>> connect_s3(const config::Config& config,
                                                       const config::PublishTarget& target) {
  auto credentials = net::load_credentials(credential_source(config, target));
  if (!credentials) return util::Error{fmt::format("target '{}': {}", target.name, credentials.message())};
  return std::make_unique<S3Connection>(config, target, *credentials);
}

// The uploads in progress under `prefix`, each told ours when the catalog
// records it for the target `identity`.
util::Result<std::optional<std::vector<UnfinishedUpload>>> classify_uploads(net::S3Client& client,
                                                                             const std::string& prefix,
                                                                             catalog::Catalog& catalog,
                                                                             const std::string& identity) {
  auto listed = client.list_multipart_uploads(prefix);
  if (!listed) return util::Error{fmt::format("cannot list the unfinished uploads: {}", listed.message())};
  if (!listed->supported) return std::optional<std::vector<UnfinishedUpload>>{};
  std::set<std::pair<std::string, std::string>> recorded;
  for (const auto& upload : catalog.multipart_uploads(identity)) recorded.emplace(upload.path, upload.upload_id);
  std::vector<UnfinishedUpload> uploads;
  for (const auto& upload : listed->uploads) {
    if (!upload.key.starts_with(prefix)) continue;
    std::string path = upload.key.substr(prefix.size());
    const bool ours = recorded.contains({path, upload.upload_id});
    uploads.push_back({std::move(path), upload.upload_id, upload.initiated, ours});
  }
  return std::optional<std::vector<UnfinishedUpload>>{std::move(uploads)};
}

// Moves what the catalog records for a target under the key `former` (the
// files published and the purges owed) to `identity`, once: never over a
// record `identity` has already.
void move_target_record(catalog::Catalog& catalog, const std::string& former, const std::string& identity) {
  auto files = catalog.published(former);
  auto purges = catalog.pending_purges(former);
  if ((files.empty() && purges.empty()) || !catalog.published(identity).empty()) return;
  catalog.write([&] {
    for (const auto& file : files) {
      catalog.record_published(identity, file);
      catalog.forget_published(former, file.path);
    }
    for (const auto& url : purges) {
      catalog.record_pending_purge(identity, url);
      catalog.forget_pending_purge(former, url);
    }
  });
}

// The catalog as an S3 target's record of its multipart uploads: a connection
// of its own, as parts are recorded from the HTTP client's thread while this
// one records whole files.
class CatalogUploadJournal final : public publish::UploadJournal {
public:
  CatalogUploadJournal(catalog::Catalog& catalog, std::string target)
      : m_catalog(catalog.reopen()), m_target(std::move(target)) {}

  std::vector<publish::UploadRecord> uploads() override {
    std::lock_guard lock(m_mutex);
    std::vector<publish::UploadRecord> records;
    for (const auto& upload : m_catalog->multipart_uploads(m_target)) {
      publish::UploadRecord record{upload.path, upload.sha256, upload.upload_id, upload.part_size, {}};
      for (const auto& part : upload.parts)
        record.parts.push_back({part.number, part.etag, part.checksum_sha256, part.size});
      records.push_back(std::move(record));
    }
    return records;
  }
  void begun(const publish::UploadRecord& upload) override {
    std::lock_guard lock(m_mutex);
    m_catalog->record_multipart_upload(m_target, {upload.path, upload.sha256, upload.upload_id, upload.part_size, 0, {}});
  }
  void part_done(const std::string& upload_id, const publish::UploadPart& part) override {
    std::lock_guard lock(m_mutex);
    m_catalog->record_uploaded_part(m_target, upload_id, {part.number, part.etag, part.checksum_sha256, part.size});
  }
  void ended(const std::string& upload_id) override {
    std::lock_guard lock(m_mutex);
    m_catalog->forget_multipart_upload(m_target, upload_id);
  }

private:
  std::mutex m_mutex;
  std::unique_ptr<catalog::Catalog> m_catalog;
  std::string m_target;
};

class TargetPublisher {
public:
  TargetPublisher(const config::Config& config, catalog::Catalog& catalog, const PublishRequest& request,
                  Observer& observer, const Portfolio& portfolio)
      : m_config(config), m_catalog(catalog), m_request(request), m_observer(observer), m_portfolio(portfolio) {
    for (const auto& file : portfolio.files) m_by_path.emplace(file.file.path, &file);
  }

  // Each remote host's circuit as this publish leaves it, for `status` and the metrics.
  void record_circuits() {
    if (!m_http) return;
    for (const auto& host : m_http->breakers())
      m_catalog.record_circuit({"target", host.host, std::string(net::to_string(host.state)),
                                host.consecutive_failures, std::nullopt, {}, 0});
  }

  TargetOutcome run(const config::PublishTarget& target, const std::function<void(const TargetOutcome&)>& on_plan) {
    TargetOutcome outcome;
    outcome.name = target.name;
    outcome.identity = target_identity(m_config, target);
    auto failed = [&](std::string_view why) {
      outcome.error = fmt::format("target '{}': {}", target.name, why);
      return outcome;
    };
    std::optional<publish::TargetFolder> folder;
    auto adopt = publish::Adopt::no;
    const fs::path root = m_config.in_project(target.path);
    if (target.type == "local") {
      outcome.index = root / "index.html";
      auto inspected = publish::inspect_local_target(root);
      if (!inspected) return failed(inspected.message());
      folder = *inspected;
      // A folder in the state folder can only be the tool's: one published before
      // the marker existed is taken over without asking.
      adopt = m_request.adopt || is_inside(root, m_config.state_dir()) ? publish::Adopt::yes : publish::Adopt::no;
      if (auto allowed = publish::may_publish_into(root, *folder, adopt); !allowed) return failed(allowed.message());
    } else if (target.type != "s3") {
      return failed(fmt::format("{} targets are not supported; it was not published", target.type));
    }

    // A dry run writes nothing: it reads a record still kept under a former
    // key where it is; a publish moves it first.
    if (m_request.dry_run) {
      outcome.identity = recorded_target_identity(m_config, m_catalog, target);
    } else {
      adopt_former_target_record(m_config, m_catalog, target);
      adopt_record_of_name(target, outcome.identity, folder);
    }
    std::vector<publish::PublishFile> wanted, published;
    for (const auto& file : m_portfolio.files) wanted.push_back(file.file);
    // A fresh folder holds nothing the tool published, whatever the record
    // says: the folder was deleted since.
    auto recorded = m_catalog.published(outcome.identity);
    if (m_request.reconcile && target.type == "s3") {
      auto reconciled = reconcile(target, outcome, recorded);
      if (!reconciled) return failed(reconciled.message());
    }
    const std::int64_t listing_requests = outcome.requests;
    if (folder != publish::TargetFolder::fresh)
      for (const auto& file : recorded) published.push_back({file.path, file.sha256, file.size});
    auto plan = publish::make_plan(wanted, published, m_request.prune);
    if (!plan) return failed(plan.message());
    outcome.plan = std::move(*plan);
    outcome.unchanged = outcome.plan->count(PlanAction::Unchanged);
    outcome.stale = outcome.plan->count(PlanAction::Stale);
    const auto pending = purges(target) ? m_catalog.pending_purges(outcome.identity) : std::vector<std::string>{};
    if (target.type == "s3") outcome.requests = listing_requests + planned_requests(*outcome.plan, target);
    if (purges(target)) outcome.requests += planned_purge_requests(target, *outcome.plan, pending);
    if (on_plan) on_plan(outcome);
    // With nothing to write (nor a purge left to retry) the target is not even
    // opened (opening walks a folder for a killed publish's temporaries), and
    // no event is recorded.
    const bool unfinished_uploads = target.type == "s3" && !m_catalog.multipart_uploads(outcome.identity).empty();
    if (m_request.dry_run || (outcome.unchanged + outcome.stale == outcome.plan->steps.size() && pending.empty() &&
                              !unfinished_uploads)) {
      if (!m_request.dry_run) outcome.requests = listing_requests;
      return outcome;
    }

    std::unique_ptr<CatalogUploadJournal> journal;  // outlives the target
    std::unique_ptr<publish::PublishTarget> opened;
    if (target.type == "local") {
      auto local = publish::open_local_target(target.name, root, adopt);
      if (!local) return failed(local.message());
      opened = std::move(*local);
    } else {
      journal = std::make_unique<CatalogUploadJournal>(m_catalog, outcome.identity);
      auto settings = s3_settings(target);
      settings.journal = journal.get();
      auto remote = publish::open_s3_target(http(), std::move(settings));
      if (!remote) return failed(remote.message());
      opened = std::move(*remote);
    }
    if (folder == publish::TargetFolder::fresh && !recorded.empty())
      m_catalog.write([&] {
        for (const auto& file : recorded) m_catalog.forget_published(outcome.identity, file.path);
      });
    outcome.requests = listing_requests;
    apply(*opened, target, outcome);
    outcome.requests += opened->requests();
    m_catalog.write([&] {
      const nlohmann::ordered_json detail = {
          {"target", target.name},       {"put", outcome.put},         {"replaced", outcome.replaced},
          {"deleted", outcome.deleted},  {"unchanged", outcome.unchanged}, {"stale", outcome.stale},
          {"failed", outcome.failed},    {"skipped", outcome.skipped}, {"bytes", outcome.bytes},
          {"requests", outcome.requests}, {"purged", outcome.purged},  {"stale_urls", outcome.stale_urls},
          {"interrupted", outcome.interrupted}};
      m_catalog.add_event({"publish.completed", std::nullopt,
                           detail.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)},
                          m_request.run_id);
    });
    return outcome;
  }

private:
  bool stopping() const { return m_request.stop && m_request.stop->load(); }

  // Lists the bucket under the target's prefix (the one time a publish does):
  // a recorded object gone is forgotten, one of another size is recorded with
  // no hash, so that the plan puts both again. Keys the record does not hold
  // are someone else's and are left out. Nothing is written on a dry run.
  util::Status reconcile(const config::PublishTarget& target, TargetOutcome& outcome,
                         std::vector<catalog::PublishedFile>& recorded) {
    auto settings = s3_settings(target);
    auto credentials = net::load_credentials(settings.credentials);
    if (!credentials) return util::Error{credentials.message()};
    net::S3Client client(http(), settings.location, *credentials);
    const std::string prefix = publish::s3_prefix(target.prefix);
    const int retries_before = http().retries_spent();
    auto listed = client.list_objects(prefix);
    if (!listed) return util::Error{fmt::format("cannot list the bucket: {}", listed.message())};
    outcome.requests += static_cast<std::int64_t>(listed->size() / 1000 + 1) + (http().retries_spent() - retries_before);
    std::map<std::string, std::int64_t> sizes;
    for (const auto& object : *listed)
      if (object.key.starts_with(prefix)) sizes.emplace(object.key.substr(prefix.size()), object.size);
    std::vector<catalog::PublishedFile> kept;
    std::vector<std::string> gone;
    for (auto file : recorded) {
      auto found = sizes.find(file.path);
      if (found == sizes.end()) {
        gone.push_back(file.path);
        continue;
      }
      if (found->second != file.size) file.sha256.clear();
      kept.push_back(file);
    }
    if (!m_request.dry_run)
      m_catalog.write([&] {
        for (const auto& path : gone) m_catalog.forget_published(outcome.identity, path);
        for (const auto& file : kept)
          if (file.sha256.empty()) m_catalog.record_published(outcome.identity, file);
      });
    recorded = std::move(kept);
    return reconcile_uploads(client, prefix, target, outcome);
  }

  // The uploads in progress under the prefix: the catalog's go on or are
  // aborted by this publish, as always; one it records that the store no
  // longer holds is forgotten; one it does not know is someone else's, only
  // reported. A store that cannot list uploads leaves the record as it is.
  util::Status reconcile_uploads(net::S3Client& client, const std::string& prefix,
                                 const config::PublishTarget& target, TargetOutcome& outcome) {
    const int retries_before = http().retries_spent();
    auto uploads = classify_uploads(client, prefix, m_catalog, outcome.identity);
    if (!uploads) return uploads.error();
    outcome.requests += 1 + (http().retries_spent() - retries_before);
    if (!*uploads) {
      m_observer.warning(fmt::format("target '{}': the store cannot list unfinished uploads; those the catalog "
                                     "records are resumed or aborted as usual",
                                     target.name));
      return util::Status::success();
    }
    std::set<std::string> held;
    for (const auto& upload : **uploads) {
      if (upload.ours) {
        held.insert(upload.upload_id);
        continue;
      }
      m_observer.warning(fmt::format("target '{}': an unfinished upload of {} (UploadId {}, begun {}) was not begun "
                                     "by this project's catalog; it is left alone",
                                     target.name, upload.path, upload.upload_id, upload.initiated));
    }
    if (m_request.dry_run) return util::Status::success();
    for (const auto& upload : m_catalog.multipart_uploads(outcome.identity))
      if (!held.contains(upload.upload_id)) m_catalog.forget_multipart_upload(outcome.identity, upload.upload_id);
    return util::Status::success();
  }

  // Catalogs written before records were keyed by identity keyed them by the
  // target's name: a local folder still marked as the tool's takes them over
  // once, so that its next publish is incremental.
  void adopt_record_of_name(const config::PublishTarget& target, const std::string& identity,
                            const std::optional<publish::TargetFolder>& folder) {
    if (target.type != "local" || folder != publish::TargetFolder::marked || target.name == identity) return;
    move_target_record(m_catalog, target.name, identity);
  }

  bool purges(const config::PublishTarget& target) const {
    return m_config.publish.purge.has_value() && !target.public_url.empty();
  }

  // The mutable paths a CDN may hold old copies of once this plan is applied:
  // those replaced, and those about to be deleted.
  static std::vector<std::string> mutable_paths(const publish::Plan& plan, bool replaced_only_if_done,
                                                const std::vector<std::string>& replaced) {
    std::vector<std::string> paths;
    for (const auto& step : plan.steps) {
      if (step.immutable) continue;
      if (step.action == PlanAction::Delete || (step.action == PlanAction::Replace && !replaced_only_if_done))
        paths.push_back(step.path);
    }
    if (replaced_only_if_done) paths.insert(paths.end(), replaced.begin(), replaced.end());
    return paths;
  }

  static std::vector<std::string> merged(std::vector<std::string> urls, const std::vector<std::string>& more) {
    urls.insert(urls.end(), more.begin(), more.end());
    std::sort(urls.begin(), urls.end());
    urls.erase(std::unique(urls.begin(), urls.end()), urls.end());
    return urls;
  }

  std::int64_t planned_purge_requests(const config::PublishTarget& target, const publish::Plan& plan,
                                      const std::vector<std::string>& pending) const {
    publish::CdnSettings settings;
    settings.provider = m_config.publish.purge->type;
    const auto urls = merged(publish::purge_urls(target.public_url, mutable_paths(plan, false, {})), pending);
    return static_cast<std::int64_t>(publish::purge_calls(settings, urls, {}, "plan").size());
  }

  // The CDN settings with their secrets, or why they cannot be had.
  util::Result<publish::CdnSettings> cdn_settings() const {
    const auto& purge = *m_config.publish.purge;
    publish::CdnSettings settings;
    settings.provider = purge.type;
    settings.api_base = purge.api_base;
    settings.zone_id = purge.zone_id;
    settings.distribution_id = purge.distribution_id;
    settings.soft = purge.soft;
    if (purge.type == "cloudfront") {
      net::CredentialSource source;
      source.access_key_env = purge.api_token.env;
      source.secret_key_env = purge.secret_key.env;
      if (!purge.api_token.file.empty()) source.access_key_file = m_config.in_project(purge.api_token.file);
      if (!purge.secret_key.file.empty()) source.secret_key_file = m_config.in_project(purge.secret_key.file);
      auto credentials = net::load_credentials(source);
      if (!credentials) return util::Error{fmt::format("publish.purge: {}", credentials.message())};
      settings.aws = std::move(*credentials);
    } else {
      auto token = config::resolve_secret(purge.api_token, m_config.project_dir);
      if (!token)
        return util::Error{fmt::format("publish.purge: the API token ({}) is not set",
                                       purge.api_token.env.empty() ? purge.api_token.file : purge.api_token.env)};
      settings.token = std::move(*token);
    }
    return settings;
  }

  // Purges what changed and what an earlier purge left stale; a failure does
  // not undo the publish: its URLs are recorded and tried again next time.
  void purge(const config::PublishTarget& target, TargetOutcome& outcome) {
    const auto urls = merged(publish::purge_urls(target.public_url, mutable_paths(*outcome.plan, true, m_replaced)),
                             m_catalog.pending_purges(outcome.identity));
    m_replaced.clear();
    if (urls.empty()) return;
    publish::PurgeReport report;
    if (auto settings = cdn_settings(); !settings) {
      report.stale = urls;
      report.errors.push_back(settings.message());
    } else {
      report = publish::purge(http(), *settings, urls);
    }
    outcome.requests += report.requests;
    outcome.purged = report.purged.size();
    outcome.stale_urls = report.stale;
    outcome.purge_errors = report.errors;
    m_catalog.write([&] {
      for (const auto& url : report.purged) m_catalog.forget_pending_purge(outcome.identity, url);
      for (const auto& url : report.stale) m_catalog.record_pending_purge(outcome.identity, url);
    });
    for (const auto& error : report.errors) m_observer.item_problem(k_stage, "purge", error);
  }

  net::HttpClient& http() {
    if (!m_http) {
      m_http = std::make_unique<net::HttpClient>(publish_http_settings(m_config));
    }
    return *m_http;
  }

  publish::S3TargetSettings s3_settings(const config::PublishTarget& target) const {
    publish::S3TargetSettings settings;
    settings.name = target.name;
    settings.location = s3_location(target);
    settings.credentials = credential_source(m_config, target);
    settings.prefix = target.prefix;
    settings.max_age = target.max_age;
    settings.multipart_threshold = std::int64_t{target.multipart_threshold_mb} << 20;
    settings.part_size = std::int64_t{target.part_size_mb} << 20;
    return settings;
  }

  // One request per upload (a large file: its parts, and one to begin and
  // one to complete them), one DeleteObjects per group of deletes (pages,
  // other mutable files, hashed files) and per thousand keys.
  static std::int64_t planned_requests(const publish::Plan& plan, const config::PublishTarget& target) {
    std::int64_t requests = 0;
    for (const auto& step : plan.steps) {
      if (step.action != PlanAction::Put && step.action != PlanAction::Replace) continue;
      const std::int64_t part_size = std::int64_t{target.part_size_mb} << 20;
      requests += step.size >= (std::int64_t{target.multipart_threshold_mb} << 20)
                      ? 2 + publish::part_count(step.size, part_size)
                      : 1;
    }
    for (const auto& group : delete_groups(plan)) requests += static_cast<std::int64_t>((group.size() + 999) / 1000);
    return requests;
  }

  // The deletes of a plan in the groups they are applied in: pages, then the
  // other mutable files, then hashed files; each group waits for the one before.
  static std::vector<std::vector<const publish::PlanStep*>> delete_groups(const publish::Plan& plan) {
    std::vector<std::vector<const publish::PlanStep*>> groups(3);
    for (const auto& step : plan.steps) {
      if (step.action != PlanAction::Delete) continue;
      bool page = step.path.ends_with(".html") || step.path.ends_with(".htm");
      groups[page ? 0 : step.immutable ? 2 : 1].push_back(&step);
    }
    std::erase_if(groups, [](const auto& group) { return group.empty(); });
    return groups;
  }

  // The steps in plan order, deletes last in groups. After a failure every
  // mutable file (pages, the manifest, styles) and every delete is held back:
  // nothing the site reads first may point at a file that did not land, and
  // what the old pages still show must stay. New immutable files go on
  // landing; nothing refers to them yet.
  void apply(publish::PublishTarget& target, const config::PublishTarget& config_target, TargetOutcome& outcome) {
    const auto& plan = *outcome.plan;
    m_done = 0;
    std::int64_t total = 0;
    for (const auto& step : plan.steps)
      if (step.action != PlanAction::Unchanged && step.action != PlanAction::Stale) ++total;
    m_observer.stage_started(k_stage, static_cast<std::size_t>(total));
    LeaseKeeper heartbeat(m_catalog, m_request.run_id, std::string(k_stage), m_request.lease_ms, m_done, total);
    bool held_back = false;
    auto failed = [&](const publish::PlanStep& step, const util::Status& done) {
      ++outcome.failed;
      // A file of someone else's in the way is left there: no page points at a missing file.
      if (done.os_error() != EEXIST) held_back = true;
      m_observer.item_problem(k_stage, step.path, done.message());
    };
    auto landed = [&](const publish::PlanStep& step, const util::Status& done) {
      ++m_done;
      if (!done) return failed(step, done);
      m_catalog.record_published(outcome.identity, {step.path, step.sha256, step.size, 0});
      ++(step.action == PlanAction::Put ? outcome.put : outcome.replaced);
      outcome.bytes += step.size;
      if (step.action == PlanAction::Replace && !step.immutable) {
        m_replaced.push_back(step.path);
        // Owed to the CDN from now on: a publish killed before its purge leaves it for the next one.
        if (purges(config_target))
          for (const auto& url : publish::purge_urls(config_target.public_url, std::vector<std::string>{step.path}))
            m_catalog.record_pending_purge(outcome.identity, url);
      }
      m_observer.item_done(k_stage, step.path, to_string(step.action), step.size);
    };
    // An upload begun for a file that changed since, or is no longer
    // published, will never be completed: the store would keep its parts.
    std::vector<std::pair<std::string, std::string>> uploading;
    for (const auto& step : plan.steps)
      if (step.action == PlanAction::Put || step.action == PlanAction::Replace) uploading.emplace_back(step.path, step.sha256);
    for (const auto& failure : target.abort_stale_uploads(uploading))
      m_observer.item_problem(k_stage, "unfinished upload", failure.message());
    // The immutable files come first and nothing refers to them yet: they go
    // up as many at once as the target takes; each is recorded, on this
    // thread, as soon as it has landed.
    std::size_t next = 0;
    {
      std::mutex mutex;
      std::condition_variable changed;
      std::deque<std::pair<const publish::PlanStep*, util::Status>> finished;
      std::size_t in_flight = 0;
      auto settle = [&](std::size_t most_in_flight) {
        std::unique_lock lock(mutex);
        for (;;) {
          while (!finished.empty()) {
            auto [step, status] = std::move(finished.front());
            finished.pop_front();
            --in_flight;
            lock.unlock();
            landed(*step, status);
            lock.lock();
          }
          if (in_flight <= most_in_flight) return;
          changed.wait(lock, [&] { return !finished.empty(); });
        }
      };
      const std::size_t window = std::max<std::size_t>(1, target.concurrency());
      for (; next < plan.steps.size(); ++next) {
        const auto& step = plan.steps[next];
        if (!step.immutable || (step.action != PlanAction::Put && step.action != PlanAction::Replace)) break;
        if (stopping()) break;
        settle(window - 1);
        auto on_landed = [&, step_ptr = &step](util::Status status) {
          std::lock_guard lock(mutex);
          finished.emplace_back(step_ptr, std::move(status));
          changed.notify_one();
        };
        // A render or an original is read from its file as it goes, never whole into memory.
        if (const PortfolioFile& file = *m_by_path.at(step.path); !file.source.empty()) {
          {
            std::lock_guard lock(mutex);
            ++in_flight;
          }
          target.put_file_async(step.path, file.source, step.sha256, step.action == PlanAction::Put, on_landed);
          continue;
        }
        auto bytes = read(step);
        if (!bytes) {
          ++m_done;
          failed(step, util::Status(bytes.error()));
          continue;
        }
        {
          std::lock_guard lock(mutex);
          ++in_flight;
        }
        target.put_async(step.path, std::move(*bytes), step.action == PlanAction::Put, on_landed);
      }
      settle(0);
    }
    for (; next < plan.steps.size(); ++next) {
      const auto& step = plan.steps[next];
      if (step.action == PlanAction::Unchanged || step.action == PlanAction::Stale ||
          step.action == PlanAction::Delete)
        continue;
      if (stopping()) {
        outcome.interrupted = true;
        return;
      }
      if (held_back && !step.immutable) {
        ++outcome.skipped;
        continue;
      }
      auto bytes = read(step);
      landed(step, !bytes ? util::Status(bytes.error())
                          : step.action == PlanAction::Put ? target.put_new(step.path, *bytes)
                                                           : target.put(step.path, *bytes));
    }
    if (purges(config_target)) purge(config_target, outcome);
    for (const auto& group : delete_groups(plan)) {
      if (stopping()) {
        outcome.interrupted = true;
        return;
      }
      if (held_back) {
        outcome.skipped += group.size();
        continue;
      }
      std::vector<std::string> paths;
      for (const auto* step : group) paths.push_back(step->path);
      auto results = target.remove_all(paths);
      for (std::size_t i = 0; i < group.size(); ++i) {
        ++m_done;
        if (!results[i]) {
          failed(*group[i], results[i]);
          continue;
        }
        m_catalog.forget_published(outcome.identity, group[i]->path);
        ++outcome.deleted;
        m_observer.item_done(k_stage, group[i]->path, to_string(PlanAction::Delete), 0);
      }
    }
  }

  // The bytes of a step's file: a render must still hash to what the catalog
  // promises, so that a file damaged or replaced on disk is never published.
  util::Result<std::string> read(const publish::PlanStep& step) const {
    const PortfolioFile& file = *m_by_path.at(step.path);
    if (file.source.empty()) return file.bytes;
    auto mapped = util::MappedFile::open(file.source);
    if (!mapped) return util::Error{fmt::format("{}: cannot read: {}", file.source.string(), mapped.message())};
    const auto bytes = mapped->bytes();
    if (util::sha256_hex(bytes) != step.sha256)
      return util::Error{fmt::format("{}: the file no longer matches its render record; run `wsportfolio render`",
                                     file.source.string())};
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  const config::Config& m_config;
  catalog::Catalog& m_catalog;
  const PublishRequest& m_request;
  Observer& m_observer;
  const Portfolio& m_portfolio;
  std::map<std::string, const PortfolioFile*, std::less<>> m_by_path;
  std::atomic<std::int64_t> m_done{0};
  std::unique_ptr<net::HttpClient> m_http;
  std::vector<std::string> m_replaced;  // mutable paths replaced by the target being published
};

}  // namespace

util::Result<std::vector<PublishedObjectProblem>> check_s3_target(const config::Config& config,
                                                                    catalog::Catalog& catalog,
                                                                    const config::PublishTarget& target) {
  auto connection = connect_s3(config, target);
  if (!connection) return util::Error{connection.message()};
  auto& [http, client] = **connection;
  const std::string prefix = publish::s3_prefix(target.prefix);
  const auto files = catalog.published(target_identity(config, target));
  std::vector<std::future<net::HttpResponse>> answers;
  for (const auto& file : files)
    // The store gives the SHA-256 it checked at upload only when asked for it.
    answers.push_back(http.send(client.signed_request("HEAD", prefix + file.path, {},
                                                      {{"x-amz-checksum-mode", "ENABLED"}}, "")));
  std::vector<PublishedObjectProblem> problems;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto answer = answers[i].get();
    if (answer.status == 404) {
      problems.push_back({files[i], true, "recorded as published but not in the bucket"});
      continue;
    }
    if (!answer.ok()) return util::Error{fmt::format("target '{}': {}", target.name, answer.error)};
    const auto size = answer.header("Content-Length").value_or("");
    if (size != std::to_string(files[i].size)) {
      problems.push_back({files[i], false, fmt::format("{} bytes in the bucket, {} published", size, files[i].size)});
      continue;
    }
    // An object assembled from parts has a checksum of its parts' checksums ("...-3"): not the file's SHA-256.
    if (auto checksum = answer.header("x-amz-checksum-sha256");
        checksum && !files[i].sha256.empty() && checksum->find('-') == std::string::npos) {
      if (*checksum != hex_to_base64(files[i].sha256))
        problems.push_back({files[i], false, "its SHA-256 in the bucket differs from what was published"});
    }
  }
  return problems;
}

util::Result<std::optional<std::vector<UnfinishedUpload>>> unfinished_s3_uploads(const config::Config& config,
                                                                                  catalog::Catalog& catalog,
                                                                                  const config::PublishTarget& target) {
  auto connection = connect_s3(config, target);
  if (!connection) return util::Error{connection.message()};
  auto& [http, client] = **connection;
  auto uploads = classify_uploads(client, publish::s3_prefix(target.prefix), catalog, target_identity(config, target));
  if (!uploads) return util::Error{fmt::format("target '{}': {}", target.name, uploads.message())};
  return uploads;
}

namespace {

fs::path absolute_target_folder(const config::Config& config, const config::PublishTarget& target) {
  auto root = fs::absolute(config.in_project(target.path)).lexically_normal();
  return root.has_filename() ? root : root.parent_path();
}

// A local target's identity before it was relative to the project.
std::string absolute_identity(const config::Config& config, const config::PublishTarget& target) {
  return "local:" + absolute_target_folder(config, target).string();
}

}  // namespace

// A folder inside the project is named relative to it, as every path in the
// catalog is, so that hosts mounting the share at different places agree; one
// outside keeps its absolute path.
std::string target_identity(const config::Config& config, const config::PublishTarget& target) {
  if (target.type == "s3") return publish::s3_identity(s3_location(target), target.prefix);
  const auto root = absolute_target_folder(config, target);
  const auto project = fs::absolute(config.project_dir).lexically_normal();
  if (!is_inside(root, project)) return absolute_identity(config, target);
  return "local:" + root.lexically_relative(project.has_filename() ? project : project.parent_path()).generic_string();
}

std::string recorded_target_identity(const config::Config& config, catalog::Catalog& catalog,
                                     const config::PublishTarget& target) {
  auto identity = target_identity(config, target);
  if (target.type != "local" || !catalog.published(identity).empty()) return identity;
  auto former = absolute_identity(config, target);
  return catalog.published(former).empty() ? identity : former;
}

void adopt_former_target_record(const config::Config& config, catalog::Catalog& catalog,
                                const config::PublishTarget& target) {
  if (target.type != "local") return;
  const auto identity = target_identity(config, target);
  const auto former = absolute_identity(config, target);
  if (former != identity) move_target_record(catalog, former, identity);
}

Portfolio build_portfolio(const config::Config& config, catalog::Catalog& catalog,
                          const config::PublishTarget::Select& select,
                          std::optional<std::vector<catalog::SelectionRecord>> selections) {
  if (!selections) selections = catalog.selections();
  std::map<std::int64_t, EffectiveTags> tags;
  for (auto& t : effective_tags(config, catalog, *selections)) tags.emplace(t.image_id, std::move(t));
  // Photos tagging has not seen yet still carry the photographer's choice.
  std::map<std::int64_t, catalog::SelectionRecord> untagged;
  for (auto& record : *selections)
    if (!tags.contains(record.image_id)) untagged.emplace(record.image_id, std::move(record));
  auto captured = [&](std::int64_t image_id) {
    auto found = tags.find(image_id);
    return found == tags.end() ? std::nullopt : found->second.capture_utc_ms;
  };

  auto renders = catalog.renders();
  // By capture time, frames without one after, then by path: the order of the day.
  std::stable_sort(renders.begin(), renders.end(), [&](const auto& a, const auto& b) {
    auto ta = captured(a.image_id), tb = captured(b.image_id);
    if (ta.has_value() != tb.has_value()) return ta.has_value();
    if (ta && *ta != *tb) return *ta < *tb;
    return a.source_path < b.source_path;
  });

  Portfolio portfolio;
  std::map<std::int64_t, std::string> source_sha256;
  if (config.publish.gallery_downloads == "originals") {
    for (const auto& record : catalog.images()) source_sha256.emplace(record.id, record.sha256);
    // A publish killed while making a copy left its temporary, as large as the original.
    std::error_code ignored;
    if (!catalog::others_at_work(catalog, k_alive_within_ms))
      for (const auto& abandoned : util::abandoned_temporaries(config.state_dir() / "originals")) fs::remove(abandoned, ignored);
  }
  std::vector<publish::GalleryImage> images;
  std::vector<catalog::RenderRecord> shown;  // for the gallery's manifest
  std::set<std::string> ids, variant_paths;
  std::optional<std::int64_t> earliest;
  for (const auto& render : renders) {
    if (render.variants.empty()) continue;
    auto tagged = tags.find(render.image_id);
    // A photo the photographer rejected (rating -1) never reaches the gallery;
    // the target's selection may leave out more.
    publish::SelectionFacts facts;
    if (tagged != tags.end()) {
      const auto& t = tagged->second;
      facts = {t.rating, t.labels, t.picked, t.group.has_value(), t.best_pick};
    } else if (auto chosen = untagged.find(render.image_id); chosen != untagged.end()) {
      facts.rating = chosen->second.rating;
      facts.labels = chosen->second.labels;
      facts.picked = chosen->second.tagged.value_or(false);
    }
    if (auto why = publish::left_out_because(select, facts)) {
      portfolio.left_out.push_back({render.source_path, *why});
      continue;
    }
    publish::GalleryImage image;
    // The gallery's anchors read like the render files' names: "IMG_0001.JPG" -> "img-0001".
    const std::string stem = web_stem(render.source_path);
    image.id = stem;
    for (int n = 2; ids.contains(image.id); ++n) image.id = fmt::format("{}-{}", stem, n);
    ids.insert(image.id);
    image.width = render.width;
    image.height = render.height;
    if (tagged != tags.end()) {
      image.scene = tagged->second.scene;
      image.alt = tagged->second.alt_text;
      image.best_pick = tagged->second.best_pick;
    }
    if (image.alt.empty()) image.alt = "Photograph";
    if (render.placeholder.starts_with("data:")) {
      image.placeholder = render.placeholder;
    } else if (!render.placeholder.empty()) {
      image.placeholder = imaging::blurhash_data_uri(render.placeholder, render.width, render.height);
      image.average_colour = imaging::blurhash_average_colour(render.placeholder);
    }
    for (const auto& variant : render.variants) {
      image.variants.push_back({variant.width, variant.height, variant.format, variant.path});
      if (variant_paths.insert(variant.path).second)
        portfolio.files.push_back(
            {{variant.path, variant.sha256, variant.bytes}, {}, config.state_dir() / variant.path});
    }
    if (auto sha = source_sha256.find(render.image_id); sha != source_sha256.end())
      if (auto original = offered_original(config, render.source_path, sha->second, image.id, portfolio.problems)) {
        image.download = original->file.path;
        if (variant_paths.insert(original->file.path).second) portfolio.files.push_back(std::move(*original));
      }
    if (auto when = captured(render.image_id); when && (!earliest || *when < *earliest)) earliest = when;
    images.push_back(std::move(image));
    shown.push_back(render);
  }
  portfolio.images = images.size();

  publish::GalleryInfo info;
  info.title = config.project.title;
  info.credit = config.project.credit;
  if (earliest) info.date = date_of(*earliest, config.project.timezone);
  info.scenes = scene_order(config);
  auto gallery = publish::build_gallery(info, images, gallery_template(config));
  if (!gallery) throw config::ConfigError(fmt::format("publish.gallery.template: {}", gallery.message()));
  for (auto& file : *gallery) {
    auto sha = util::sha256_hex(file.bytes);
    auto size = static_cast<std::int64_t>(file.bytes.size());
    portfolio.files.push_back({{file.path, std::move(sha), size}, std::move(file.bytes), {}});
  }
  auto manifest = manifest_json(shown, ManifestFor::gallery);
  portfolio.files.push_back(
      {{"manifest.json", util::sha256_hex(manifest), static_cast<std::int64_t>(manifest.size())}, manifest, {}});
  std::sort(portfolio.files.begin(), portfolio.files.end(),
            [](const auto& a, const auto& b) { return a.file.path < b.file.path; });
  return portfolio;
}

PublishSummary publish(const config::Config& config, catalog::Catalog& catalog, const PublishRequest& request,
                       Observer& observer, const std::function<void(const TargetOutcome&)>& on_plan) {
  // Only one process publishes a project at a time, on whichever host: the
  // plan of the second must see what the first landed.
  std::unique_ptr<catalog::ProjectLock> lock;
  if (!request.dry_run && !request.publisher) lock = catalog.lock("publish", catalog::LockWait::until_free);
  // A rating changed in the photographer's tool since the last look is metadata:
  // it is read here, and nothing is rendered or tagged again for it. A dry run
  // explains with it but stores nothing.
  std::optional<std::vector<catalog::SelectionRecord>> selections;
  if (request.dry_run)
    selections = current_selections(config, catalog, observer);
  else
    sync_selections(config, catalog, observer);
  // Each target shows its own selection; targets with the same one share a portfolio.
  std::vector<std::pair<config::PublishTarget::Select, Portfolio>> portfolios;
  auto portfolio_for = [&](const config::PublishTarget::Select& select) -> const Portfolio& {
    for (const auto& [made_for, portfolio] : portfolios)
      if (made_for == select) return portfolio;
    portfolios.emplace_back(select, build_portfolio(config, catalog, select, selections));
    return portfolios.back().second;
  };
  PublishSummary summary;
  const Portfolio& everything = portfolio_for({});
  summary.images = everything.images;
  for (const auto& problem : everything.problems) observer.item_problem(k_stage, "downloads", problem);
  for (const auto& target : config.publish.targets) {
    if (!request.only_target.empty() && target.name != request.only_target) continue;
    if (request.stop && *request.stop) break;
    const auto started = std::chrono::steady_clock::now();
    const Portfolio& portfolio = portfolio_for(target.select);
    TargetPublisher publisher(config, catalog, request, observer, portfolio);
    summary.targets.push_back(publisher.run(target, on_plan));
    summary.targets.back().images = portfolio.images;
    summary.targets.back().left_out = portfolio.left_out;
    summary.targets.back().seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!request.dry_run) publisher.record_circuits();
  }
  return summary;
}

}  // namespace wsp::pipeline
