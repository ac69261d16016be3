#include "common/text/segment.h"

namespace autostage::text {

std::string_view SpeakerName(Speaker speaker) {
  switch (speaker) {
    case Speaker::kCustomer:
      return "customer";
    case Speaker::kRep:
      return "rep";
  }
  return "customer";
}

std::string_view SegmentKindName(SegmentKind kind) {
  switch (kind) {
    case SegmentKind::kBody:
      return "body";
    case SegmentKind::kSubject:
      return "subject";
    case SegmentKind::kAttachmentName:
      return "attachment";
  }
  return "body";
}

}  // namespace autostage::text
