#include "common/rules/sha256.h"

// The one-shot SHA256() and EVP_Digest(EVP_sha256()) of OpenSSL 3 look the algorithm up in the
// provider registry on every call (about 3x the instructions of the hash itself for a short
// proposal key), and EVP with a pre-fetched EVP_MD needs an object to hold it, which these free
// functions have no place for. The SHA256_* functions (deprecated in 3.0, still built, no state
// beyond the stack SHA256_CTX) go straight to the block function OpenSSL picked for this CPU:
// SHA-NI where present, else AVX2/SSSE3.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace autostage::rules {

std::array<uint8_t, 32> Sha256(std::string_view data) {
  static_assert(SHA256_DIGEST_LENGTH == 32);
  std::array<uint8_t, 32> out;
  SHA256_CTX context;
  // With a valid context and output these only return 1 (they cannot fail in OpenSSL 3).
  SHA256_Init(&context);
  SHA256_Update(&context, data.data(), data.size());
  SHA256_Final(out.data(), &context);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : Sha256(data)) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

}  // namespace autostage::rules
