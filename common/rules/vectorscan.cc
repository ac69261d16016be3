#include "common/rules/vectorscan.h"

namespace autostage::rules {

std::optional<std::string> CheckExpression(const std::string& expression, unsigned flags) {
  hs_database_t* raw_db = nullptr;
  hs_compile_error_t* raw_error = nullptr;
  hs_error_t rc =
      hs_compile(expression.c_str(), flags, HS_MODE_BLOCK, nullptr, &raw_db, &raw_error);
  HsDatabase db(raw_db);
  HsCompileError error(raw_error);
  if (rc == HS_SUCCESS) return std::nullopt;
  if (error && error->message != nullptr) return std::string(error->message);
  return std::string("vectorscan error ") + std::to_string(rc);
}

}  // namespace autostage::rules
