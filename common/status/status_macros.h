// RETURN_IF_ERROR / ASSIGN_OR_RETURN: the Debian abseil ships no status_macros.h.
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto value, ComputeValue());
#ifndef AUTOSTAGE_COMMON_STATUS_STATUS_MACROS_H_
#define AUTOSTAGE_COMMON_STATUS_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AUTOSTAGE_STATUS_CONCAT_INNER_(a, b) a##b
#define AUTOSTAGE_STATUS_CONCAT_(a, b) AUTOSTAGE_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status autostage_status_ = (expr);             \
    if (!autostage_status_.ok()) return autostage_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, rexpr)                                                             \
  AUTOSTAGE_ASSIGN_OR_RETURN_IMPL_(AUTOSTAGE_STATUS_CONCAT_(autostage_statusor_, __LINE__), lhs, \
                                   rexpr)

#define AUTOSTAGE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = std::move(statusor).value()

#endif  // AUTOSTAGE_COMMON_STATUS_STATUS_MACROS_H_
