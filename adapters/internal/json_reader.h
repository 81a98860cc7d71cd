#ifndef MUSIC_ADAPTERS_INTERNAL_JSON_READER_H_
#define MUSIC_ADAPTERS_INTERNAL_JSON_READER_H_

#include <rapidjson/document.h>

#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace music::adapters::internal {

/// Reads one provider's untrusted JSON answers (RapidJSON, iterative parsing so nesting depth
/// cannot exhaust the stack; every member type-checked before use, since RapidJSON asserts, or
/// worse, on a wrong type).
///
/// The contract of every `Read*` member (the same for all providers):
/// - member absent, or JSON `null`: OK, and `*out` is reset to its empty value ("" / 0 / false /
///   nullopt / nullptr). A value `*out` held before is never kept: a fallback between members is
///   spelled out with ReadFirstString or by the caller, not hidden in the reader.
/// - member present with the expected type: OK, `*out` holds its value.
/// - member present with another type: INTERNAL "<provider> sent a malformed answer: `<name>` is
///   not <expected>", and `*out` is reset to its empty value (never a half-read value).
/// - `obj` not an object: read as if every member were absent.
///
/// A reader is a constant per provider: `constexpr JsonReader kJson("kie.ai");`.
class JsonReader {
 public:
  /// `provider` is the name error messages give the sender ("kie.ai", "PiAPI", ...); it must
  /// outlive the reader (a string literal).
  explicit constexpr JsonReader(absl::string_view provider) : provider_(provider) {}

  /// INTERNAL "<provider> sent a malformed answer: <what>". INTERNAL because a malformed answer
  /// is retryable (provider_errors.h IsRetryable).
  absl::Status Malformed(absl::string_view what) const;
  /// Malformed("`<field>` is not <expected>"); `expected` reads like "a string".
  absl::Status WrongType(absl::string_view field, absl::string_view expected) const;

  /// Parses `body` into `doc` and requires a top-level object. Malformed when the body is empty,
  /// is not JSON (the message gives the offset and RapidJSON's reason) or is not an object.
  absl::Status ParseObject(absl::string_view body, rapidjson::Document& doc) const;

  /// The member `name` of `obj`; nullptr when it is absent or null, or `obj` is not an object.
  static const rapidjson::Value* Find(const rapidjson::Value& obj, const char* name);

  /// A string member (contract above; expected "a string").
  absl::Status ReadString(const rapidjson::Value& obj, const char* name, std::string* out) const;
  /// A string member that must be there: like ReadString, but absent or null is WrongType too.
  absl::Status ReadRequiredString(const rapidjson::Value& obj, const char* name,
                                  std::string* out) const;
  /// The first non-empty of several string members, `names` in order of preference (e.g. a
  /// current name before a legacy one). Every present member is type-checked, so a wrong type in
  /// any of them is an error even when an earlier one is set; "" when none is set.
  absl::Status ReadFirstString(const rapidjson::Value& obj,
                               std::initializer_list<const char*> names, std::string* out) const;
  /// A number member, as a double (expected "a number"; a JSON integer reads as its double).
  absl::Status ReadNumber(const rapidjson::Value& obj, const char* name, double* out) const;
  /// A number member that may be absent: nullopt when absent or null (0 is a value).
  absl::Status ReadNumber(const rapidjson::Value& obj, const char* name,
                          std::optional<double>* out) const;
  /// A boolean member (expected "a boolean").
  absl::Status ReadBool(const rapidjson::Value& obj, const char* name, bool* out) const;
  /// An object member; `*out` points into `obj` (expected "an object").
  absl::Status ReadObject(const rapidjson::Value& obj, const char* name,
                          const rapidjson::Value** out) const;
  /// An array member; `*out` points into `obj` (expected "an array").
  absl::Status ReadArray(const rapidjson::Value& obj, const char* name,
                         const rapidjson::Value** out) const;
  /// A provider code that is a string or an integer, as text (an integer 42 reads as "42";
  /// expected "a string or an integer"). Providers document codes as one and send the other.
  absl::Status ReadCode(const rapidjson::Value& obj, const char* name, std::string* out) const;

 private:
  absl::string_view provider_;
};

}  // namespace music::adapters::internal

#endif  // MUSIC_ADAPTERS_INTERNAL_JSON_READER_H_
