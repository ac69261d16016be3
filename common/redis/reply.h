// An owned, copyable C++ copy of a Redis reply (RESP2): nil, integer, bulk string, status,
// error, or an array of replies.
//
// hiredis hands out redisReply trees that must be freed with freeReplyObject; RedisClient
// converts them into a Reply at once (see ConvertReply in redis_client.cc) so no C memory
// escapes the client. A Reply is a plain value: copy it, keep it, share it across threads
// read-only.
#ifndef AUTOSTAGE_COMMON_REDIS_REPLY_H_
#define AUTOSTAGE_COMMON_REDIS_REPLY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace autostage::redis {

class Reply {
 public:
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };

  // A default Reply is nil (a missing key, a timed-out blocking read, ...).
  Reply() = default;

  static Reply Nil() { return Reply(); }
  static Reply Integer(int64_t value);
  static Reply String(std::string value);
  static Reply Status(std::string value);  // "+OK", "+QUEUED": the text without '+'.
  static Reply Error(std::string value);   // "-ERR ...": the text without '-'.
  static Reply Array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_integer() const { return type_ == Type::kInteger; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_status() const { return type_ == Type::kStatus; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_array() const { return type_ == Type::kArray; }

  // Accessors return a zero value / empty string / empty vector when the type differs, so a
  // caller that checked type() can read without a second branch.
  int64_t integer() const { return type_ == Type::kInteger ? integer_ : 0; }
  // Text of a string, status or error reply.
  const std::string& str() const { return str_; }
  const std::vector<Reply>& elements() const { return elements_; }
  size_t size() const { return elements_.size(); }
  const Reply& operator[](size_t i) const { return elements_[i]; }

  // For an error reply: the mapped Status (see ErrorReplyToStatus); OkStatus() otherwise.
  absl::Status ToStatus() const;

  // Debug form, e.g. `["OK", 3, nil, (error) ERR x]`. Not a wire format.
  std::string DebugString() const;

  friend bool operator==(const Reply& a, const Reply& b);
  friend bool operator!=(const Reply& a, const Reply& b) { return !(a == b); }

 private:
  Type type_ = Type::kNil;
  int64_t integer_ = 0;
  std::string str_;
  std::vector<Reply> elements_;
};

// Maps the text of a Redis error reply to a Status, by what the caller should do:
//  - LOADING, BUSY, TRYAGAIN, MASTERDOWN, READONLY, CLUSTERDOWN, MOVED, ASK → kUnavailable
//    (transient server state: retry the call, possibly elsewhere);
//  - WRONGTYPE, NOAUTH, WRONGPASS, NOPERM, EXECABORT, OOM → kFailedPrecondition (retrying the
//    same call will not help: wrong data shape, credentials or limits);
//  - NOSCRIPT → kNotFound (Script reloads and retries; others should not see it);
//  - anything else (ERR ..., errors raised by Lua scripts) → kInternal.
// The message is "redis: " followed by the full error text, so callers that raise their own
// errors from Lua (e.g. "CONFLICT ...") can still tell them apart.
absl::Status ErrorReplyToStatus(const std::string& error_text);

}  // namespace autostage::redis

#endif  // AUTOSTAGE_COMMON_REDIS_REPLY_H_
