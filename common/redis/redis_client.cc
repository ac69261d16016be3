#include "common/redis/redis_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace autostage::redis {
namespace {

void FreeReply(redisReply* r) { freeReplyObject(r); }
using ReplyHandle = Handle<redisReply, &FreeReply>;

// Deep-copies a hiredis reply tree into an owned Reply.
Reply ConvertReply(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(r.str, r.len));
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(r.str, r.len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(r.str, r.len));
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(r.integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) elements.push_back(ConvertReply(*r.element[i]));
      return Reply::Array(std::move(elements));
    }
    default:  // REDIS_REPLY_NIL
      return Reply::Nil();
  }
}

// True when the peer has closed the connection (or it is broken), seen without blocking and
// without consuming data. A healthy idle connection has nothing to read: recv says EAGAIN.
bool PeerClosed(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly shutdown
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;  // unread data on an idle connection: cannot happen unless out of sync
}

std::vector<const char*> ArgvPointers(const Args& args, std::vector<size_t>* lengths) {
  std::vector<const char*> argv;
  argv.reserve(args.size());
  lengths->clear();
  lengths->reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths->push_back(a.size());
  }
  return argv;
}

}  // namespace

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

absl::Status RedisClient::FailConnection(absl::string_view what) {
  std::string detail = "no context";
  if (context_) {
    detail = context_->err != 0 ? std::string(context_->errstr) : "unknown error";
  }
  context_.reset();  // hiredis: a context is unusable after an I/O error or timeout.
  return absl::UnavailableError(
      absl::StrCat("redis ", options_.host, ":", options_.port, ": ", what, ": ", detail));
}

absl::Status RedisClient::Connect() {
  if (context_) return absl::OkStatus();
  context_.reset(redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                         absl::ToTimeval(options_.connect_timeout)));
  if (!context_) {
    return absl::UnavailableError(
        absl::StrCat("redis ", options_.host, ":", options_.port, ": cannot allocate context"));
  }
  if (context_->err != 0) return FailConnection("connect");
  if (redisSetTimeout(context_.get(), absl::ToTimeval(options_.command_timeout)) != REDIS_OK) {
    return FailConnection("set timeout");
  }
  // Keepalive lets the kernel notice a peer that vanished without a FIN (host crash).
  redisEnableKeepAlive(context_.get());
  ++connects_;

  // AUTH and SELECT run on the fresh context; an error reply here is a configuration problem.
  std::vector<Args> setup;
  if (!options_.password.empty()) {
    setup.push_back(options_.username.empty() ? Args{"AUTH", options_.password}
                                              : Args{"AUTH", options_.username, options_.password});
  }
  if (options_.db != 0) setup.push_back(Args{"SELECT", absl::StrCat(options_.db)});
  for (const Args& args : setup) {
    std::vector<size_t> lengths;
    std::vector<const char*> argv = ArgvPointers(args, &lengths);
    ReplyHandle reply(static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) return FailConnection(args[0]);
    if (reply->type == REDIS_REPLY_ERROR) {
      context_.reset();
      absl::Status s = ErrorReplyToStatus(std::string(reply->str, reply->len));
      return absl::Status(s.code(), absl::StrCat(args[0], " failed: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status RedisClient::EnsureConnected() {
  if (context_ && PeerClosed(context_->fd)) context_.reset();
  return Connect();
}

absl::StatusOr<Reply> RedisClient::ReadReply() {
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
    return FailConnection("read reply");
  }
  ReplyHandle reply(static_cast<redisReply*>(raw));
  return ConvertReply(*reply.get());
}

absl::StatusOr<Reply> RedisClient::Command(const Args& args) {
  if (args.empty()) return absl::InvalidArgumentError("redis: empty command");
  ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline({args}));
  Reply& reply = replies.front();
  if (reply.is_error()) return reply.ToStatus();
  return std::move(reply);
}

absl::StatusOr<std::vector<Reply>> RedisClient::Pipeline(const std::vector<Args>& commands) {
  for (const Args& args : commands) {
    if (args.empty()) return absl::InvalidArgumentError("redis: empty command in pipeline");
  }
  RETURN_IF_ERROR(EnsureConnected());
  // Appending only fills hiredis's output buffer; the first redisGetReply writes it all.
  for (const Args& args : commands) {
    std::vector<size_t> lengths;
    std::vector<const char*> argv = ArgvPointers(args, &lengths);
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return FailConnection("append command");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    ASSIGN_OR_RETURN(Reply reply, ReadReply());
    replies.push_back(std::move(reply));
  }
  return replies;
}

}  // namespace autostage::redis
