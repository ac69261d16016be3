#include "common/redis/reply.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace autostage::redis {

Reply Reply::Integer(int64_t value) {
  Reply r;
  r.type_ = Type::kInteger;
  r.integer_ = value;
  return r;
}

Reply Reply::String(std::string value) {
  Reply r;
  r.type_ = Type::kString;
  r.str_ = std::move(value);
  return r;
}

Reply Reply::Status(std::string value) {
  Reply r;
  r.type_ = Type::kStatus;
  r.str_ = std::move(value);
  return r;
}

Reply Reply::Error(std::string value) {
  Reply r;
  r.type_ = Type::kError;
  r.str_ = std::move(value);
  return r;
}

Reply Reply::Array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::kArray;
  r.elements_ = std::move(elements);
  return r;
}

absl::Status Reply::ToStatus() const {
  if (type_ != Type::kError) return absl::OkStatus();
  return ErrorReplyToStatus(str_);
}

std::string Reply::DebugString() const {
  switch (type_) {
    case Type::kNil:
      return "nil";
    case Type::kInteger:
      return absl::StrCat(integer_);
    case Type::kString:
      return absl::StrCat("\"", str_, "\"");
    case Type::kStatus:
      return str_;
    case Type::kError:
      return absl::StrCat("(error) ", str_);
    case Type::kArray:
      return absl::StrCat(
          "[",
          absl::StrJoin(elements_, ", ",
                        [](std::string* out, const Reply& r) { out->append(r.DebugString()); }),
          "]");
  }
  return "?";
}

bool operator==(const Reply& a, const Reply& b) {
  return a.type_ == b.type_ && a.integer_ == b.integer_ && a.str_ == b.str_ &&
         a.elements_ == b.elements_;
}

absl::Status ErrorReplyToStatus(const std::string& error_text) {
  // The error code is the first word of the error text (Redis convention).
  const std::string code = error_text.substr(0, error_text.find(' '));
  const std::string message = absl::StrCat("redis: ", error_text);
  for (const char* transient :
       {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "MOVED", "ASK"}) {
    if (code == transient) return absl::UnavailableError(message);
  }
  for (const char* permanent : {"WRONGTYPE", "NOAUTH", "WRONGPASS", "NOPERM", "EXECABORT", "OOM"}) {
    if (code == permanent) return absl::FailedPreconditionError(message);
  }
  if (code == "NOSCRIPT") return absl::NotFoundError(message);
  return absl::InternalError(message);
}

}  // namespace autostage::redis
