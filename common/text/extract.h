// Extraction of the new content of an event (spec: stage-policy.md rules 3, 5, 7, 8).
//
//   email: quoted history, forwarded messages, signatures and disclaimers dropped; HTML turned
//          into visible text; auto-replies and other machine-made mail yield nothing.
//   call:  transcript turns keep their speaker; notes count as customer-reported; any
//          disposition but "answered" yields nothing.
//   chat:  each message keeps its sender; recalled messages dropped; file placeholders
//          ("[文件: x.pdf]", "[File: x.pdf]") also become kAttachmentName segments.
//
// Thread safety: pure functions, safe to call concurrently.
#ifndef AUTOSTAGE_COMMON_TEXT_EXTRACT_H_
#define AUTOSTAGE_COMMON_TEXT_EXTRACT_H_

#include <cstddef>

#include "autostage/v1/event.pb.h"
#include "common/text/segment.h"

namespace autostage::text {

struct ExtractOptions {
  // Upper bound on HTML nesting depth honoured by the converter; deeper tags are flattened.
  size_t max_html_depth = 256;
};

// The event must already be validated (common/event). Never fails: bad input yields fewer
// segments, not an error.
Extraction Extract(const v1::Event& event, const ExtractOptions& options = {});

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_EXTRACT_H_
