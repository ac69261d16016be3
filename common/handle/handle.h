// One holder for every C handle (rd_kafka_t, redisContext, hs_database_t, ICU objects, ...).
//
//   using HsDatabase = Handle<hs_database_t, &hs_free_database>;
//
// Move-only; the deleter runs once, on destruction or reset, and never on nullptr.
#ifndef AUTOSTAGE_COMMON_HANDLE_HANDLE_H_
#define AUTOSTAGE_COMMON_HANDLE_HANDLE_H_

#include <utility>

namespace autostage {

template <typename T, auto Deleter>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T* ptr) : ptr_(ptr) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.ptr_, nullptr));
    return *this;
  }
  ~Handle() { reset(); }

  T* get() const { return ptr_; }
  T* operator->() const { return ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }

  // Gives up ownership without destroying (e.g. when a C API takes ownership on success).
  T* release() { return std::exchange(ptr_, nullptr); }
  void reset(T* ptr = nullptr) {
    T* old = std::exchange(ptr_, ptr);
    if (old != nullptr) Deleter(old);
  }

 private:
  T* ptr_ = nullptr;
};

}  // namespace autostage

#endif  // AUTOSTAGE_COMMON_HANDLE_HANDLE_H_
