#pragma once
// What the tool has put on each publish target, file by file: the only files
// it may ever replace or remove there.

#include <cstdint>
#include <string>
#include <vector>

namespace wsp::catalog {

// A file the tool put on a publish target, as it was put there.
struct PublishedFile {
  std::string path;  // relative to the target's root, '/'-separated
  std::string sha256;
  std::int64_t size = 0;
  std::int64_t published_ms = 0;  // 0 when recording: now
};

// A multipart upload of one large file to an S3 target, begun and not yet
// completed or aborted, with the parts the store has acknowledged.
struct UploadedPart {
  int number = 0;  // from 1
  std::string etag;             // as the store gave it, without quotes
  std::string checksum_sha256;  // base64, as sent with the part
  std::int64_t size = 0;
};
struct MultipartUpload {
  std::string path;  // relative to the target's root
  std::string sha256;  // of the whole file being uploaded
  std::string upload_id;
  std::int64_t part_size = 0;
  std::int64_t started_ms = 0;  // 0 when recording: now
  std::vector<UploadedPart> parts;  // by number
};

struct PublishCatalog {
  virtual ~PublishCatalog() = default;

  // `target` is the target's identity (pipeline/publish.hpp's target_identity:
  // its type and where it points), so that a target moved elsewhere starts afresh.
  // What the tool has published to the target `target`, by path. Only
  // these files may ever be replaced or removed there; a file is recorded right
  // after it is in place and forgotten right after it is removed, so that an
  // interrupted publish resumes from what actually landed.
  virtual std::vector<PublishedFile> published(const std::string& target) = 0;
  virtual void record_published(const std::string& target, const PublishedFile& file) = 0;
  virtual void forget_published(const std::string& target, const std::string& path) = 0;

  // The URLs of a target that a CDN may still serve old copies of: a purge
  // that failed after its retries, tried again by the next publish.
  virtual std::vector<std::string> pending_purges(const std::string& target) = 0;
  virtual void record_pending_purge(const std::string& target, const std::string& url) = 0;
  virtual void forget_pending_purge(const std::string& target, const std::string& url) = 0;

  // The multipart uploads begun on `target` and not finished, each with its
  // acknowledged parts, so that a killed publish resumes at the next part and
  // an upload nobody will finish is aborted. An upload is recorded as soon as
  // the store gives its id (its `parts` are not read), each part as soon as the
  // store acknowledges it, and the upload is forgotten, with its parts, once
  // completed or aborted. A part recorded again replaces the earlier record.
  virtual std::vector<MultipartUpload> multipart_uploads(const std::string& target) = 0;
  virtual void record_multipart_upload(const std::string& target, const MultipartUpload& upload) = 0;
  virtual void record_uploaded_part(const std::string& target, const std::string& upload_id,
                                    const UploadedPart& part) = 0;
  virtual void forget_multipart_upload(const std::string& target, const std::string& upload_id) = 0;
};

}  // namespace wsp::catalog
