#include "torusml/common/byte_io.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "torusml/common/error.h"

namespace torusml {

static_assert(std::endian::native == std::endian::little,
              "TorusML's formats are little-endian; big-endian hosts need byte swaps here");

namespace {
template <class T>
void append_le(std::vector<std::uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
}  // namespace

void ByteWriter::u16(std::uint16_t v) {
  append_le(bytes_, v);
}
void ByteWriter::u32(std::uint32_t v) {
  append_le(bytes_, v);
}
void ByteWriter::u64(std::uint64_t v) {
  append_le(bytes_, v);
}
void ByteWriter::f64(double v) {
  append_le(bytes_, v);
}
void ByteWriter::bytes(std::span<const std::uint8_t> v) {
  bytes_.insert(bytes_.end(), v.begin(), v.end());
}

void ByteWriter::u64_array(std::span<const std::uint64_t> v) {
  u64(v.size());
  const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
  bytes_.insert(bytes_.end(), p, p + v.size_bytes());
}

void ByteWriter::string(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

void ByteReader::need(std::size_t n, const char* field) const {
  if (n > bytes_.size() - pos_) {
    std::ostringstream os;
    os << "truncated input: reading '" << field << "' needs " << n << " bytes at offset " << pos_
       << " but only " << (bytes_.size() - pos_) << " remain (file cut short or corrupted?)";
    throw SerializationError(os.str());
  }
}

namespace {
template <class T>
T read_le(std::span<const std::uint8_t> bytes, std::size_t pos) {
  T v;
  std::memcpy(&v, bytes.data() + pos, sizeof(T));
  return v;
}
}  // namespace

std::uint8_t ByteReader::u8(const char* field) {
  need(1, field);
  return bytes_[pos_++];
}
std::uint16_t ByteReader::u16(const char* field) {
  need(2, field);
  auto v = read_le<std::uint16_t>(bytes_, pos_);
  pos_ += 2;
  return v;
}
std::uint32_t ByteReader::u32(const char* field) {
  need(4, field);
  auto v = read_le<std::uint32_t>(bytes_, pos_);
  pos_ += 4;
  return v;
}
std::uint64_t ByteReader::u64(const char* field) {
  need(8, field);
  auto v = read_le<std::uint64_t>(bytes_, pos_);
  pos_ += 8;
  return v;
}
double ByteReader::f64(const char* field) {
  need(8, field);
  auto v = read_le<double>(bytes_, pos_);
  pos_ += 8;
  return v;
}

void ByteReader::bytes(std::span<std::uint8_t> out, const char* field) {
  if (out.empty()) return;
  need(out.size(), field);
  std::memcpy(out.data(), bytes_.data() + pos_, out.size());
  pos_ += out.size();
}

std::vector<std::uint64_t> ByteReader::u64_array(const char* field, std::size_t max_count) {
  const std::uint64_t count = u64(field);
  if (count > max_count) {
    std::ostringstream os;
    os << "corrupted input: '" << field << "' claims " << count << " elements, more than the "
       << max_count << " its header allows";
    throw SerializationError(os.str());
  }
  if (count > remaining() / 8)
    need(static_cast<std::size_t>(count) * 8, field);  // before allocating
  std::vector<std::uint64_t> out(static_cast<std::size_t>(count));
  u64_values(out, field);
  return out;
}

void ByteReader::u64_values(std::span<std::uint64_t> out, const char* field) {
  fixed_width_values(out.data(), out.size(), sizeof(std::uint64_t), field);
}

void ByteReader::u32_values(std::span<std::uint32_t> out, const char* field) {
  fixed_width_values(out.data(), out.size(), sizeof(std::uint32_t), field);
}

void ByteReader::fixed_width_values(void* out, std::size_t count, std::size_t width,
                                    const char* field) {
  if (count > remaining() / width) need(count * width, field);  // throws; cannot overflow here
  const std::size_t bytes = count * width;
  if (bytes > 0) std::memcpy(out, bytes_.data() + pos_, bytes);
  pos_ += bytes;
}

std::string ByteReader::string(const char* field, std::size_t max_length) {
  const std::uint32_t n = u32(field);
  if (n > max_length) {
    std::ostringstream os;
    os << "corrupted input: string '" << field << "' claims " << n << " bytes (limit " << max_length
       << ")";
    throw SerializationError(os.str());
  }
  need(n, field);
  std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
  pos_ += n;
  return s;
}

void ByteReader::expect_end(const char* what) const {
  if (pos_ != bytes_.size()) {
    std::ostringstream os;
    os << "corrupted input: " << (bytes_.size() - pos_) << " unexpected trailing bytes after the "
       << what;
    throw SerializationError(os.str());
  }
}

std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "' for reading: check the path and permissions");
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) throw Error("cannot determine the size of '" + path + "'");
  in.seekg(0);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  if (!out.empty() && !in.read(reinterpret_cast<char*>(out.data()), size))
    throw Error("cannot read '" + path + "'");
  return out;
}

void write_file_bytes(const std::string& path, std::span<const std::uint8_t> bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw Error("cannot open '" + tmp + "' for writing: check the directory and permissions");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error("cannot write '" + tmp + "' (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

}  // namespace torusml
