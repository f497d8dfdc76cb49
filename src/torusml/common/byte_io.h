// Byte-level serialization primitives: little-endian fixed-width integers and doubles, with a
// reader that never reads out of bounds. Every object format of TorusML is built on these.
//
// ByteReader throws SerializationError (with the field name and offsets) on a truncated input,
// so a corrupt file gives a clear error and never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace torusml {

class ByteWriter {
 public:
  void u8(std::uint8_t v) { bytes_.push_back(v); }
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v);
  void bytes(std::span<const std::uint8_t> v);
  /// A u64 count followed by the values.
  void u64_array(std::span<const std::uint64_t> v);
  /// A u32 length followed by the UTF-8 bytes.
  void string(std::string_view s);

  const std::vector<std::uint8_t>& data() const noexcept { return bytes_; }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }
  std::size_t size() const noexcept { return bytes_.size(); }

 private:
  std::vector<std::uint8_t> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::uint8_t u8(const char* field);
  std::uint16_t u16(const char* field);
  std::uint32_t u32(const char* field);
  std::uint64_t u64(const char* field);
  std::int64_t i64(const char* field) { return static_cast<std::int64_t>(u64(field)); }
  double f64(const char* field);
  void bytes(std::span<std::uint8_t> out, const char* field);
  /// Reads a u64 count (at most max_count) and that many u64 values.
  std::vector<std::uint64_t> u64_array(const char* field, std::size_t max_count);
  /// Reads exactly out.size() u64 values (no count prefix).
  void u64_values(std::span<std::uint64_t> out, const char* field);
  /// Reads exactly out.size() u32 values (no count prefix).
  void u32_values(std::span<std::uint32_t> out, const char* field);
  std::string string(const char* field, std::size_t max_length = 1u << 20);

  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  /// Throws SerializationError unless every byte was consumed.
  void expect_end(const char* what) const;

 private:
  void need(std::size_t n, const char* field) const;
  // Reads `count` little-endian values of `width` bytes into `out` (host order is little).
  void fixed_width_values(void* out, std::size_t count, std::size_t width, const char* field);
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

/// 64-bit FNV-1a hash of bytes: a stable, portable fingerprint (not a cryptographic MAC).
std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes,
                      std::uint64_t seed = 0xcbf29ce484222325ULL);

/// Reads a whole file; throws Error with the path if it cannot be read.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);
/// Writes a whole file atomically (temporary file then rename); throws Error on failure.
void write_file_bytes(const std::string& path, std::span<const std::uint8_t> bytes);

}  // namespace torusml
