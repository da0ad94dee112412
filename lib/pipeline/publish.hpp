#pragma once
// The publish stage: the portfolio as it is now (the gallery's pages and
// assets, every rendered variant they show, manifest.json) compared with what
// the catalog says each target holds, and only the difference applied. Each
// file is recorded in the catalog right after it is in place (and forgotten
// right after it is removed), so a publish killed at any moment resumes from
// what actually landed, and a publish with nothing changed writes nothing.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/observer.hpp"
#include "publish/plan.hpp"
#include "util/result.hpp"

namespace wsp::pipeline {

struct PublishRequest {
  std::string run_id;
  const std::atomic<bool>* stop = nullptr;
  bool dry_run = false;     // plan only: nothing is written anywhere
  bool prune = false;       // delete what the tool published that is no longer in the portfolio
  bool adopt = false;       // publish into target folders the tool did not make (their files are left alone)
  bool reconcile = false;   // list each s3 target: what was deleted or changed there is published again
  std::string only_target;  // a target's name; empty: every configured target
  std::int64_t lease_ms = 30'000;
  // The publisher lock, when the caller holds it already; else publish takes it.
  const catalog::ProjectLock* publisher = nullptr;
};

// One file of the portfolio: its content is `bytes`, or the file `source`
// (a render, whose content must still hash to file.sha256).
struct PortfolioFile {
  publish::PublishFile file;
  std::string bytes;
  std::filesystem::path source;
};

struct Portfolio {
  std::vector<PortfolioFile> files;  // sorted by path
  std::size_t images = 0;
  // "IMG_0001.JPG: its original is not offered for download: ...", per photo
  std::vector<std::string> problems;
  struct LeftOut {
    std::string path;  // the source's catalog path
    std::string why;
  };
  std::vector<LeftOut> left_out;  // rendered photos the selection does not show, by capture time
};

// Builds the portfolio from the catalog: images with a render, in sections per
// scene (the timeline's order, then tagging.scenes), by capture time, with the
// alt text and best picks of tagging and the render's placeholder; with
// publish.gallery.downloads: originals, each photo's original with the
// metadata policy applied (imaging/original.hpp), made once into the state
// folder's originals/ per source content and policy. Throws
// config::ConfigError when the gallery template cannot be read or does not parse.
// `select` is the target's choice of photos (publish::left_out_because);
// `selections` the photographer's, the catalog's when not given.
Portfolio build_portfolio(const config::Config& config, catalog::Catalog& catalog,
                          const config::PublishTarget::Select& select = {},
                          std::optional<std::vector<catalog::SelectionRecord>> selections = std::nullopt);

struct TargetOutcome {
  std::string name;
  std::string identity;         // target_identity: the key of its record in the catalog
  std::filesystem::path index;  // the gallery's first page, for a local target
  std::optional<publish::Plan> plan;
  std::size_t put = 0;
  std::size_t replaced = 0;
  std::size_t deleted = 0;
  std::size_t unchanged = 0;
  std::size_t stale = 0;
  std::size_t failed = 0;
  std::size_t skipped = 0;    // held back after a failure, so no page points at a missing file
  std::int64_t bytes = 0;     // written
  double seconds = 0;         // planning and writing this target
  std::int64_t requests = 0;  // sent to a remote store (retries included); for a dry run, those it would send
  std::string error;          // the target was not published at all, and why
  std::size_t images = 0;     // photos its selection shows
  std::vector<Portfolio::LeftOut> left_out;  // and those it leaves out, with why
  std::size_t purged = 0;                 // CDN URLs purged
  std::vector<std::string> stale_urls;    // CDN URLs whose purge failed: may still be served old
  std::vector<std::string> purge_errors;  // why, redacted
  bool interrupted = false;
};

struct PublishSummary {
  std::size_t images = 0;
  std::vector<TargetOutcome> targets;
};

// The key of a target's record in the catalog: its type and where it points
// ("local:gallery" inside the project, "local:/abs/folder" outside it,
// "s3:https://endpoint/bucket/prefix/"), never its name alone nor its
// credentials, so that a target pointed elsewhere starts afresh.
std::string target_identity(const config::Config& config, const config::PublishTarget& target);
// Moves a local target's record kept under the absolute identity earlier
// versions gave every local target to its identity now, so that an upgrade
// republishes nothing. Does nothing once moved, or when both exist.
void adopt_former_target_record(const config::Config& config, catalog::Catalog& catalog,
                                const config::PublishTarget& target);
// The identity the target's record is kept under, for a reader that may not
// write: the former absolute one until a publish has moved it.
std::string recorded_target_identity(const config::Config& config, catalog::Catalog& catalog,
                                     const config::PublishTarget& target);

// What a HEAD of each object the catalog records for an s3 target found wrong.
struct PublishedObjectProblem {
  catalog::PublishedFile file;
  bool missing = false;  // otherwise: there with another size or SHA-256
  std::string detail;
};

// HEADs every object published to the s3 target `target` (many at once):
// missing, another size, or, where the store keeps it, another SHA-256
// checksum. Fails when the target cannot be reached at all.
util::Result<std::vector<PublishedObjectProblem>> check_s3_target(const config::Config& config,
                                                                    catalog::Catalog& catalog,
                                                                    const config::PublishTarget& target);

// A multipart upload in progress under an s3 target's prefix.
struct UnfinishedUpload {
  std::string path;  // its key, less the target's prefix
  std::string upload_id;
  std::string initiated;
  // The catalog records it: the next publish resumes it (the same file, the
  // same bytes) or aborts it. Otherwise it is someone else's, never aborted.
  bool ours = false;
};

// The multipart uploads in progress under the s3 target's prefix
// (ListMultipartUploads); nothing when the store cannot list them.
util::Result<std::optional<std::vector<UnfinishedUpload>>> unfinished_s3_uploads(const config::Config& config,
                                                                                  catalog::Catalog& catalog,
                                                                                  const config::PublishTarget& target);

// Publishes to every configured target (or `request.only_target`), one after
// the other; two processes never publish the same project at once (the second
// waits). `on_plan` sees each target's plan before it is applied. A target
// that cannot be published (no credentials, a foreign folder) gets an error of
// its own; the others are still published.
PublishSummary publish(const config::Config& config, catalog::Catalog& catalog, const PublishRequest& request,
                       Observer& observer, const std::function<void(const TargetOutcome&)>& on_plan = {});

}  // namespace wsp::pipeline
