#ifndef MUSIC_PERSISTENCE_ARCHIVE_S3_ARCHIVE_STORE_H_
#define MUSIC_PERSISTENCE_ARCHIVE_S3_ARCHIVE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "persistence/archive_store.h"

namespace music::persistence {

/// Where an S3-compatible bucket is and how to sign for it. Secrets come from the environment
/// (the wiring reads the variables the config names); they are never logged.
struct S3ArchiveOptions {
  /// Scheme, host and port, no path: "https://s3.eu-west-1.amazonaws.com",
  /// "http://127.0.0.1:4568". Objects are addressed path-style: <endpoint>/<bucket>/<key>.
  std::string endpoint;
  std::string bucket;
  /// The signing region, e.g. "us-east-1".
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  /// Prepended to every key ("" or ending in '/'), e.g. "music/".
  std::string key_prefix;
  absl::Duration connect_timeout = absl::Seconds(5);
  /// Time allowed for one request, the whole body included.
  absl::Duration request_timeout = absl::Seconds(120);
  /// Optional CA bundle (PEM) replacing the system one.
  std::string ca_file;
};

/// An ArchiveStore over an S3-compatible object store: PUT with x-amz-content-sha256 (the store
/// checks the body), HEAD for sizes, GET with a Range header; every request signed with AWS
/// Signature V4 by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3", the keys as
/// CURLOPT_USERPWD). One blocking request per call: the archiver and GetClipAudio call it on
/// their worker threads. Errors: 404 is NOT_FOUND, 416 OUT_OF_RANGE, 403 PERMISSION_DENIED,
/// other 4xx FAILED_PRECONDITION, 5xx and network failures UNAVAILABLE.
/// INVALID_ARGUMENT when endpoint or bucket is empty or the endpoint is not http(s)://.
absl::StatusOr<std::unique_ptr<ArchiveStore>> OpenS3ArchiveStore(S3ArchiveOptions options);

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_ARCHIVE_S3_ARCHIVE_STORE_H_
