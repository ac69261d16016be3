// SHA-256 (FIPS 180-4) by OpenSSL's libcrypto (SHA-NI where the CPU has it): proposal ids must
// be identical across runs, builds and platforms, which std::hash does not promise.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_RULES_SHA256_H_
#define AUTOSTAGE_COMMON_RULES_SHA256_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace autostage::rules {

std::array<uint8_t, 32> Sha256(std::string_view data);
// Lowercase hex of the digest (64 characters).
std::string Sha256Hex(std::string_view data);

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_SHA256_H_
