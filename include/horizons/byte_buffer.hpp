// A growable byte buffer that never zero-fills: the codec appends into it and
// a caller that reuses one buffer encodes without allocating.
//
//   horizons::byte_buffer buffer;
//   for (auto& e : events) { buffer.clear(); horizons::encode_framed(e, buffer); send(buffer.bytes()); }
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace horizons {

class byte_buffer {
 public:
  byte_buffer() = default;
  explicit byte_buffer(std::size_t capacity) { reserve(capacity); }

  [[nodiscard]] std::byte* data() { return data_.get(); }
  [[nodiscard]] const std::byte* data() const { return data_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::span<const std::byte> bytes() const { return {data_.get(), size_}; }
  [[nodiscard]] std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }

  void clear() { size_ = 0; }
  /// Drops the bytes after the first `size` (no effect if there are fewer).
  void truncate(std::size_t size) { size_ = std::min(size, size_); }
  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    auto grown = std::make_unique_for_overwrite<std::byte[]>(capacity);
    if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  /// Makes room for `extra` more bytes and returns where they go; commit() them after writing.
  [[nodiscard]] std::byte* prepare(std::size_t extra) {
    if (capacity_ - size_ < extra) reserve(std::max(capacity_ * 2, size_ + extra + 64));
    return data_.get() + size_;
  }
  void commit(std::size_t written) { size_ += written; }
  void append(std::span<const std::byte> bytes) {
    if (bytes.empty()) return;  // an empty span may hold a null pointer, which memcpy must not get
    std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
    commit(bytes.size());
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// Views text as bytes (for input read from files or strings).
[[nodiscard]] inline std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace horizons
