// The .npy format (numpy/lib/format.py): magic "\x93NUMPY", a version, a little-endian header
// length, then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline, then the raw elements.
#include "mhacheck/npy.hpp"
#include "input/npy_detail.hpp"

#include "mhacheck/output_file.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace mhacheck {
namespace npy_detail {
namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
// NumPy's own default max_header_size (np.load refuses longer headers unless allow_pickle);
// also bounds what a hostile header length can make us allocate.
constexpr std::size_t kMaxHeaderLength = 10000;
// Nesting of the header literal; a real header nests two levels.
constexpr int kMaxLiteralDepth = 16;

// --- The Python literal in the header ------------------------------------------------------

// The subset of Python literals a header can hold.
struct PyValue {
  enum class Kind { String, Int, Float, Bool, None, Tuple, List, Dict };
  Kind kind = Kind::None;
  std::string text;                 // String: the value; Int/Float: as written; Bool: True/False
  std::optional<std::int64_t> integer;  // Int, when it fits in int64
  std::vector<PyValue> items;       // Tuple, List
  // Dict, string keys in order. Not std::pair<std::string, PyValue>: a pair of a type still
  // being defined is not portable (clang with libstdc++ refuses it).
  struct Member;
  std::vector<Member> members;
};

struct PyValue::Member {
  Member(std::string key, PyValue value) : first(std::move(key)), second(std::move(value)) {}
  std::string first;
  PyValue second;
};

class LiteralParser {
 public:
  LiteralParser(const NpySource& source, const std::string& text) : source_(source), text_(text) {}

  PyValue parse() {
    PyValue value = parse_value(0);
    skip_blank();
    if (pos_ != text_.size()) fail("unexpected text after the dict");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string near = text_.substr(pos_, 20);
    for (char& c : near) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    throw npy_error(source_,
                    fmt::format("header is not a valid Python literal: {} at byte {} of the header{}", what, pos_,
                                pos_ < text_.size() ? fmt::format(" (near \"{}\")", near) : std::string(" (at its end)")),
                    "the header must look like {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  }

  void skip_blank() {
    while (pos_ < text_.size() && std::strchr(" \t\n\r\f\v", text_[pos_]) != nullptr && text_[pos_] != '\0') ++pos_;
  }

  bool take(char c) {
    skip_blank();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  PyValue parse_value(int depth) {
    if (depth > kMaxLiteralDepth) fail(fmt::format("nesting deeper than {} levels", kMaxLiteralDepth));
    skip_blank();
    if (pos_ >= text_.size()) fail("expected a value");
    char c = text_[pos_];
    if (c == '\'' || c == '"') return parse_string();
    if (c == '{') return parse_dict(depth);
    if (c == '(') return parse_sequence(depth, ')', PyValue::Kind::Tuple);
    if (c == '[') return parse_sequence(depth, ']', PyValue::Kind::List);
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) return parse_number();
    return parse_name();
  }

  PyValue parse_string() {
    char quote = text_[pos_++];
    PyValue value;
    value.kind = PyValue::Kind::String;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\n') fail("newline inside a string");
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value.text += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return value;
  }

  PyValue parse_number() {
    std::size_t start = pos_;
    bool negative = false;
    if (text_[pos_] == '-' || text_[pos_] == '+') negative = text_[pos_++] == '-';
    skip_blank();  // Python allows "- 1"
    std::size_t digits_start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    std::size_t digits_end = pos_;
    bool is_float = false;
    while (pos_ < text_.size() && std::strchr(".eE0123456789", text_[pos_]) != nullptr && text_[pos_] != '\0') {
      if ((text_[pos_] == 'e' || text_[pos_] == 'E') && pos_ + 1 < text_.size() &&
          (text_[pos_ + 1] == '-' || text_[pos_ + 1] == '+')) {
        ++pos_;
      }
      is_float = true;
      ++pos_;
    }
    PyValue value;
    if (!is_float && digits_end == digits_start) fail("expected a number");
    value.kind = is_float ? PyValue::Kind::Float : PyValue::Kind::Int;
    value.text = text_.substr(start, pos_ - start);
    // Python 2 wrote long integers as "3L"; NumPy still reads such headers.
    if (!is_float && pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;
    if (!is_float) {
      std::int64_t magnitude = 0;
      bool fits = true;
      for (std::size_t i = digits_start; i < digits_end && fits; ++i) {
        int digit = text_[i] - '0';
        if (magnitude > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fits = false;
        else magnitude = magnitude * 10 + digit;
      }
      if (fits) value.integer = negative ? -magnitude : magnitude;
    }
    return value;
  }

  PyValue parse_name() {
    std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    std::string name = text_.substr(start, pos_ - start);
    PyValue value;
    if (name == "True" || name == "False") {
      value.kind = PyValue::Kind::Bool;
      value.text = name;
    } else if (name == "None") {
      value.kind = PyValue::Kind::None;
    } else {
      pos_ = start;
      fail(name.empty() ? "expected a value" : fmt::format("'{}' is not a literal", name));
    }
    return value;
  }

  PyValue parse_sequence(int depth, char close, PyValue::Kind kind) {
    ++pos_;
    PyValue value;
    value.kind = kind;
    bool saw_comma = false;
    while (!take(close)) {
      value.items.push_back(parse_value(depth + 1));
      if (take(',')) {
        saw_comma = true;
      } else if (!take(close)) {
        fail(fmt::format("expected ',' or '{}'", close));
      } else {
        break;
      }
    }
    // "(5)" is just 5 in Python; only "(5,)" is a tuple.
    if (kind == PyValue::Kind::Tuple && value.items.size() == 1 && !saw_comma) return value.items.front();
    return value;
  }

  PyValue parse_dict(int depth) {
    ++pos_;
    PyValue value;
    value.kind = PyValue::Kind::Dict;
    while (!take('}')) {
      PyValue key = parse_value(depth + 1);
      if (key.kind != PyValue::Kind::String) fail("expected a string key");
      for (const auto& member : value.members) {
        if (member.first == key.text) fail(fmt::format("duplicate key '{}'", key.text));
      }
      if (!take(':')) fail("expected ':'");
      value.members.emplace_back(key.text, parse_value(depth + 1));
      if (!take(',')) {
        if (!take('}')) fail("expected ',' or '}'");
        break;
      }
    }
    return value;
  }

  const NpySource& source_;
  const std::string& text_;
  std::size_t pos_ = 0;
};

std::string quoted_python(const PyValue& value) {
  switch (value.kind) {
    case PyValue::Kind::String: return "'" + value.text + "'";
    case PyValue::Kind::Int:
    case PyValue::Kind::Float:
    case PyValue::Kind::Bool: return value.text;
    case PyValue::Kind::None: return "None";
    case PyValue::Kind::Tuple:
    case PyValue::Kind::List: {
      std::string out = value.kind == PyValue::Kind::Tuple ? "(" : "[";
      for (std::size_t i = 0; i < value.items.size(); ++i) out += (i ? ", " : "") + quoted_python(value.items[i]);
      if (value.kind == PyValue::Kind::Tuple && value.items.size() == 1) out += ",";
      return out + (value.kind == PyValue::Kind::Tuple ? ")" : "]");
    }
    case PyValue::Kind::Dict: return "{...}";
  }
  return "?";
}

// --- descr ---------------------------------------------------------------------------------

struct NpyType {
  char kind;
  int size;
  DType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {'f', 2, DType::Float16}, {'f', 4, DType::Float32}, {'f', 8, DType::Float64}, {'b', 1, DType::Bool},
    {'u', 1, DType::UInt8},   {'i', 1, DType::Int8},    {'i', 2, DType::Int16},   {'i', 4, DType::Int32},
    {'i', 8, DType::Int64},
};

// NumPy's name for a kind and size, so a refusal names the dtype as the user knows it.
std::string numpy_type_name(char kind, int size) {
  switch (kind) {
    case 'f': return fmt::format("float{}", size * 8);
    case 'i': return fmt::format("int{}", size * 8);
    case 'u': return fmt::format("uint{}", size * 8);
    case 'c': return fmt::format("complex{}", size * 8);
    case 'b': return "bool";
    case 'O': return "object";
    case 'U': return "unicode string";
    case 'S':
    case 'a': return "byte string";
    case 'V': return "void (raw or structured)";
    case 'M': return "datetime64";
    case 'm': return "timedelta64";
    default: return "unknown";
  }
}

const char* kSupportedDescrs = "f2, f4, f8, b1, u1, i1, i2, i4, i8 (float16, float32, float64, bool, uint8, int8, int16, int32, int64)";

void parse_descr(const NpySource& source, const PyValue& descr, NpyHeader& header) {
  if (descr.kind != PyValue::Kind::String) {
    bool structured = descr.kind == PyValue::Kind::List;
    throw npy_error(source,
                    fmt::format("{} dtype {} is not supported", structured ? "structured" : "non-string",
                                quoted_python(descr)),
                    fmt::format("supported dtypes: {}", kSupportedDescrs));
  }
  const std::string& text = descr.text;
  std::size_t pos = 0;
  char order = '=';
  if (!text.empty() && std::strchr("<>=|", text[0]) != nullptr && text[0] != '\0') order = text[pos++];
  char kind = pos < text.size() ? text[pos++] : '\0';
  std::string digits = text.substr(pos);
  bool numeric_size = !digits.empty() && digits.size() <= 3 &&
                      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  int size = numeric_size ? std::stoi(digits) : 0;
  for (const NpyType& type : kNpyTypes) {
    if (numeric_size && type.kind == kind && type.size == size) {
      header.dtype = type.dtype;
      bool file_big = order == '>' || (order == '=' && std::endian::native == std::endian::big);
      header.big_endian = size > 1 && file_big;
      return;
    }
  }
  throw npy_error(source,
                  fmt::format("dtype '{}' ({}) is not supported", text, numpy_type_name(kind, size)),
                  fmt::format("supported dtypes: {}", kSupportedDescrs));
}

// --- header dict ---------------------------------------------------------------------------

NpyHeader interpret_header(const NpySource& source, const PyValue& dict) {
  if (dict.kind != PyValue::Kind::Dict) {
    throw npy_error(source, fmt::format("header is {} where a dict is expected", quoted_python(dict)));
  }
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (const auto& [key, value] : dict.members) {
    if (key == "descr") descr = &value;
    else if (key == "fortran_order") fortran = &value;
    else if (key == "shape") shape = &value;
    else throw npy_error(source, fmt::format("header has an unexpected key '{}'", key),
                         "a header has exactly the keys 'descr', 'fortran_order' and 'shape'");
  }
  for (auto [value, name] : {std::pair{descr, "descr"}, {fortran, "fortran_order"}, {shape, "shape"}}) {
    if (value == nullptr) {
      throw npy_error(source, fmt::format("header lacks the key '{}'", name),
                      "a header has exactly the keys 'descr', 'fortran_order' and 'shape'");
    }
  }
  NpyHeader header;
  parse_descr(source, *descr, header);
  if (fortran->kind != PyValue::Kind::Bool) {
    throw npy_error(source, fmt::format("'fortran_order' is {}, expected True or False", quoted_python(*fortran)));
  }
  header.fortran_order = fortran->text == "True";
  if (shape->kind != PyValue::Kind::Tuple) {
    throw npy_error(source, fmt::format("'shape' is {}, expected a tuple of integers", quoted_python(*shape)));
  }
  for (std::size_t i = 0; i < shape->items.size(); ++i) {
    const PyValue& dim = shape->items[i];
    if (dim.kind != PyValue::Kind::Int) {
      throw npy_error(source, fmt::format("dim {} of shape {} is {}, not an integer", i, quoted_python(*shape),
                                          quoted_python(dim)));
    }
    if (!dim.integer) {
      throw npy_error(source, fmt::format("dim {} of shape {} does not fit in int64", i, quoted_python(*shape)));
    }
    if (*dim.integer < 0) {
      throw npy_error(source, fmt::format("dim {} of shape {} is negative", i, quoted_python(*shape)));
    }
    header.shape.push_back(*dim.integer);
  }
  // A zero dim makes the product zero whatever the others are, so test for it first.
  std::int64_t count = 1;
  bool has_zero = std::find(header.shape.begin(), header.shape.end(), 0) != header.shape.end();
  if (has_zero) {
    count = 0;
  } else {
    for (std::int64_t dim : header.shape) {
      if (__builtin_mul_overflow(count, dim, &count)) {
        throw npy_error(source, fmt::format("shape {} has more elements than an int64 can count",
                                            quoted_python(*shape)));
      }
    }
  }
  std::int64_t item = static_cast<std::int64_t>(dtype_size(header.dtype));
  if (count > std::numeric_limits<std::int64_t>::max() / item) {
    throw npy_error(source, fmt::format("shape {} of {} needs more bytes than an int64 can count",
                                        quoted_python(*shape), dtype_name(header.dtype)));
  }
  header.element_count = count;
  return header;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::uint32_t little_endian(const unsigned char* bytes, int count) {
  std::uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = value << 8 | bytes[i];
  return value;
}

// --- data ----------------------------------------------------------------------------------

void byte_swap_elements(std::vector<unsigned char>& bytes, std::size_t item) {
  for (std::size_t start = 0; start + item <= bytes.size(); start += item) {
    std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(start),
                 bytes.begin() + static_cast<std::ptrdiff_t>(start + item));
  }
}

// Fortran order stores the first index fastest; walk the C-order positions with an odometer
// and keep the matching Fortran offset alongside.
std::vector<unsigned char> fortran_to_c(const std::vector<unsigned char>& in, const std::vector<std::int64_t>& shape,
                                        std::size_t item) {
  std::vector<unsigned char> out(in.size());
  std::size_t rank = shape.size();
  std::vector<std::int64_t> fortran_stride(rank, 1);
  for (std::size_t d = 1; d < rank; ++d) fortran_stride[d] = fortran_stride[d - 1] * shape[d - 1];
  std::vector<std::int64_t> index(rank, 0);
  std::int64_t fortran_offset = 0;
  std::size_t count = item == 0 ? 0 : in.size() / item;
  for (std::size_t c = 0; c < count; ++c) {
    std::memcpy(&out[c * item], &in[static_cast<std::size_t>(fortran_offset) * item], item);
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < shape[d]) {
        fortran_offset += fortran_stride[d];
        break;
      }
      fortran_offset -= (shape[d] - 1) * fortran_stride[d];
      index[d] = 0;
    }
  }
  return out;
}

double half_to_double(std::uint16_t bits) {
  int exponent = (bits >> 10) & 0x1f;
  int mantissa = bits & 0x3ff;
  double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

std::string errno_text() { return std::strerror(errno); }

std::size_t read_fd(int fd, unsigned char* into, std::size_t count) {
  std::size_t done = 0;
  while (done < count) {
    ssize_t got = ::read(fd, into + done, count - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::runtime_error(errno_text());
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

// Closes a descriptor on every path out of a scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

ByteReader fd_reader(const NpySource& source, int fd) {
  return [source, fd](unsigned char* into, std::size_t count) {
    try {
      return read_fd(fd, into, count);
    } catch (const std::runtime_error& error) {
      throw npy_error(source, fmt::format("read failed: {}", error.what()));
    }
  };
}

}  // namespace

InputError npy_error(const NpySource& source, const std::string& problem, std::string help) {
  auto text = std::make_shared<SourceText>();
  text->name = source.path;
  Location location;
  location.source = text;
  std::string message = source.member.empty()
                            ? fmt::format("{}: {}", source.path, problem)
                            : fmt::format("{}: member \"{}\": {}", source.path, source.member, problem);
  return InputError(location, message, std::move(help), InputError::Kind::Syntax);
}

NpyHeader read_header(const NpySource& source, const ByteReader& read, std::size_t& header_size) {
  unsigned char preamble[12];
  std::size_t got = read(preamble, 8);
  if (got < 6 || std::memcmp(preamble, kMagic, 6) != 0) {
    throw npy_error(source, got < 6 ? fmt::format("not a .npy file: only {} bytes, too short for the magic", got)
                                    : "not a .npy file: the magic string \"\\x93NUMPY\" is missing",
                    "a .npy file is written by np.save");
  }
  if (got < 8) throw npy_error(source, "truncated header: the file ends inside the version");
  int major = preamble[6];
  int minor = preamble[7];
  if (minor != 0 || major < 1 || major > 3) {
    throw npy_error(source, fmt::format("unsupported .npy format version {}.{}", major, minor),
                    "supported versions: 1.0, 2.0, 3.0");
  }
  int length_bytes = major == 1 ? 2 : 4;
  if (read(preamble + 8, static_cast<std::size_t>(length_bytes)) < static_cast<std::size_t>(length_bytes)) {
    throw npy_error(source, "truncated header: the file ends inside the header length");
  }
  std::size_t length = little_endian(preamble + 8, length_bytes);
  if (length > kMaxHeaderLength) {
    throw npy_error(source, fmt::format("header length {} is over the limit of {} bytes", length, kMaxHeaderLength),
                    "NumPy itself refuses such headers by default (max_header_size)");
  }
  std::string text(length, '\0');
  std::size_t text_got = read(reinterpret_cast<unsigned char*>(text.data()), length);
  if (text_got < length) {
    throw npy_error(source, fmt::format("truncated header: header length says {} bytes, file has {}", length, text_got));
  }
  header_size = 8 + static_cast<std::size_t>(length_bytes) + length;
  return interpret_header(source, LiteralParser(source, text).parse());
}

std::int64_t data_bytes(const NpyHeader& header) {
  return header.element_count * static_cast<std::int64_t>(dtype_size(header.dtype));
}

void check_element_limit(const NpySource& source, const NpyHeader& header, std::int64_t max_elements) {
  if (header.element_count > max_elements) {
    throw npy_error(source,
                    fmt::format("shape {} has {} elements, more than the limit of {}", shape_text(header.shape),
                                header.element_count, max_elements));
  }
}

Array read_data(const NpySource& source, const NpyHeader& header, const ByteReader& read) {
  Array array;
  array.dtype = header.dtype;
  array.shape = header.shape;
  array.bytes.resize(static_cast<std::size_t>(data_bytes(header)));
  std::size_t got = read(array.bytes.data(), array.bytes.size());
  if (got < array.bytes.size()) {
    throw npy_error(source, fmt::format("truncated data: header declares {} elements ({} bytes), found only {} bytes",
                                        header.element_count, array.bytes.size(), got));
  }
  std::size_t item = dtype_size(header.dtype);
  bool native_big = std::endian::native == std::endian::big;
  if (item > 1 && header.big_endian != native_big) byte_swap_elements(array.bytes, item);
  if (header.fortran_order && array.shape.size() > 1) array.bytes = fortran_to_c(array.bytes, array.shape, item);
  return array;
}

std::vector<unsigned char> encode_npy(const NpySource& source, const Array& array) {
  if (array.dtype == DType::BFloat16) {
    throw npy_error(source, "cannot write bfloat16: .npy has no bfloat16 dtype", "convert to float32 first");
  }
  Array checked = make_array(array.dtype, array.shape);  // validates the shape
  if (array.bytes.size() != checked.bytes.size()) {
    throw std::invalid_argument(fmt::format("Array of shape {} and dtype {} holds {} bytes, expected {}",
                                            shape_text(array.shape), dtype_name(array.dtype), array.bytes.size(),
                                            checked.bytes.size()));
  }
  std::string descr;
  for (const NpyType& type : kNpyTypes) {
    if (type.dtype == array.dtype) descr = fmt::format("{}{}{}", type.size == 1 ? '|' : '<', type.kind, type.size);
  }
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr,
                                 shape_text(array.shape));
  // NumPy pads the header with spaces and a newline so that the data starts on a multiple of 64.
  int major = dict.size() + 1 + 10 <= 65535 ? 1 : 2;
  std::size_t preamble = major == 1 ? 10 : 12;
  std::size_t total = preamble + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::vector<unsigned char> out(kMagic, kMagic + 6);
  out.push_back(static_cast<unsigned char>(major));
  out.push_back(0);
  std::size_t length = dict.size();
  for (std::size_t i = 0; i < preamble - 8; ++i) out.push_back(static_cast<unsigned char>(length >> (8 * i)));
  out.insert(out.end(), dict.begin(), dict.end());
  std::size_t data_start = out.size();
  out.insert(out.end(), array.bytes.begin(), array.bytes.end());
  if (std::endian::native == std::endian::big && array.element_size() > 1) {
    std::vector<unsigned char> data(out.begin() + static_cast<std::ptrdiff_t>(data_start), out.end());
    byte_swap_elements(data, array.element_size());
    std::copy(data.begin(), data.end(), out.begin() + static_cast<std::ptrdiff_t>(data_start));
  }
  return out;
}

int open_regular_file(const NpySource& source, std::int64_t& size) {
  int fd = ::open(source.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw npy_error(source, fmt::format("cannot open: {}", errno_text()));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    std::string reason = errno_text();
    ::close(fd);
    throw npy_error(source, fmt::format("cannot open: {}", reason));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw npy_error(source, S_ISDIR(info.st_mode) ? "is a directory, expected a file"
                                                  : "is not a regular file (a device, FIFO or socket); refused unread");
  }
  size = info.st_size;
  return fd;
}

}  // namespace npy_detail

using namespace npy_detail;

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16: return 2;
    case DType::Float32:
    case DType::Int32: return 4;
    case DType::Float64:
    case DType::Int64: return 8;
    case DType::Bool:
    case DType::UInt8:
    case DType::Int8: return 1;
  }
  return 1;
}

std::int64_t Array::size() const {
  std::int64_t count = 1;
  for (std::int64_t dim : shape) count *= dim;
  return count;
}

std::size_t Array::element_size() const { return dtype_size(dtype); }

std::vector<double> Array::to_double() const {
  std::size_t count = bytes.size() / element_size();
  std::vector<double> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    switch (dtype) {
      case DType::Float16: out[i] = half_to_double(data<std::uint16_t>()[i]); break;
      case DType::BFloat16: {
        std::uint32_t bits = static_cast<std::uint32_t>(data<std::uint16_t>()[i]) << 16;
        out[i] = std::bit_cast<float>(bits);
        break;
      }
      case DType::Float32: out[i] = data<float>()[i]; break;
      case DType::Float64: out[i] = data<double>()[i]; break;
      case DType::Bool: out[i] = bytes[i] != 0 ? 1.0 : 0.0; break;
      case DType::UInt8: out[i] = data<std::uint8_t>()[i]; break;
      case DType::Int8: out[i] = data<std::int8_t>()[i]; break;
      case DType::Int16: out[i] = data<std::int16_t>()[i]; break;
      case DType::Int32: out[i] = data<std::int32_t>()[i]; break;
      case DType::Int64: out[i] = static_cast<double>(data<std::int64_t>()[i]); break;
    }
  }
  return out;
}

Array make_array(DType dtype, std::vector<std::int64_t> shape) {
  std::int64_t count = 1;
  for (std::int64_t dim : shape) {
    if (dim < 0) throw std::invalid_argument(fmt::format("negative dim in shape {}", shape_text(shape)));
  }
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    count = 0;
  } else {
    for (std::int64_t dim : shape) {
      if (__builtin_mul_overflow(count, dim, &count)) {
        throw std::invalid_argument(fmt::format("shape {} has too many elements", shape_text(shape)));
      }
    }
  }
  std::int64_t item = static_cast<std::int64_t>(dtype_size(dtype));
  if (count > std::numeric_limits<std::int64_t>::max() / item) {
    throw std::invalid_argument(fmt::format("shape {} has too many bytes", shape_text(shape)));
  }
  Array array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.bytes.assign(static_cast<std::size_t>(count * item), 0);
  return array;
}

NpyHeader read_npy_header(const std::string& path) {
  NpySource source{path, {}};
  std::int64_t size = 0;
  FdCloser file{open_regular_file(source, size)};
  std::size_t header_size = 0;
  return read_header(source, fd_reader(source, file.fd), header_size);
}

Array read_npy(const std::string& path, std::int64_t max_elements) {
  NpySource source{path, {}};
  std::int64_t size = 0;
  FdCloser file{open_regular_file(source, size)};
  std::size_t header_size = 0;
  ByteReader read = fd_reader(source, file.fd);
  NpyHeader header = read_header(source, read, header_size);
  check_element_limit(source, header, max_elements);
  // The file's size must match before the data is allocated: a header cannot make us reserve
  // memory the file does not back.
  std::int64_t have = size - static_cast<std::int64_t>(header_size);
  std::int64_t need = data_bytes(header);
  if (have != need) {
    throw npy_error(source, fmt::format("{}: header declares {} elements ({} bytes), file has {} bytes after its {}-byte header",
                                        have < need ? "truncated data" : "trailing data", header.element_count, need,
                                        have, header_size));
  }
  return read_data(source, header, read);
}

void write_npy(const std::string& path, const Array& array) {
  std::vector<unsigned char> bytes = encode_npy({path, {}}, array);
  write_output(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace mhacheck
