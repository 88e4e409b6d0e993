// Early-return helpers for absl::Status / absl::StatusOr on the control plane.
// Debian's Abseil 20220623 ships neither ABSL_RETURN_IF_ERROR nor ASSIGN_OR_RETURN.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KG_CONCAT_INNER(a, b) a##b
#define KG_CONCAT(a, b) KG_CONCAT_INNER(a, b)

#define KG_RETURN_IF_ERROR(expr)                              \
  do {                                                        \
    if (absl::Status kg_status_ = (expr); !kg_status_.ok()) { \
      return kg_status_;                                      \
    }                                                         \
  } while (0)

#define KG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) {                               \
    return std::move(tmp).status();              \
  }                                              \
  lhs = std::move(tmp).value()

#define KG_ASSIGN_OR_RETURN(lhs, expr) \
  KG_ASSIGN_OR_RETURN_IMPL(KG_CONCAT(kg_statusor_, __LINE__), lhs, expr)
