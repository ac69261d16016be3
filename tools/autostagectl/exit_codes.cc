#include "tools/autostagectl/exit_codes.h"

namespace autostage::ctl {

std::string OneLine(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "autostagectl: " << OneLine(message) << "\n";
  err.flush();
  return code;
}

}  // namespace autostage::ctl
