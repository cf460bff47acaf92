// .npy/.npz reading against files NumPy wrote (tests/npy/, see gen_npy_fixtures.py), every
// malformed or hostile variant refused with a specific message, and the writers' round trip.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "mhacheck/npy.hpp"

using namespace mhacheck;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(MHACHECK_SOURCE_DIR) + "/tests/npy/";
constexpr std::int64_t kLimit = 1 << 20;

std::string fixture(const std::string& name) { return kFixtures + name; }

std::vector<unsigned char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Bytes as a file in a test's temporary directory.
std::string write_bytes(const test::TempDir& dir, const std::string& name, const std::vector<unsigned char>& bytes) {
  return dir.write(name, std::string(bytes.begin(), bytes.end()));
}

// The message of the InputError `read` throws, or a marker when it throws none.
template <class F>
std::string error_of(F read) {
  try {
    read();
  } catch (const InputError& error) {
    CHECK(error.location().file() != "");
    CHECK(error.location().line == 0);
    return error.what();
  }
  return "(no error)";
}

// A version 1.0 .npy file with `dict` as its header, padded as NumPy pads.
std::vector<unsigned char> npy_with_header(const std::string& dict, std::size_t data_bytes, int major = 1) {
  std::string header = dict;
  std::size_t preamble = major == 1 ? 10 : 12;
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::vector<unsigned char> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  for (std::size_t i = 0; i < preamble - 8; ++i) out.push_back(static_cast<unsigned char>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::string header_dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': " + descr + ", 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// Distinct values for every dtype, negative where the type allows, exact in a double.
Array sample(DType dtype, std::vector<std::int64_t> shape) {
  Array array = make_array(dtype, std::move(shape));
  for (std::int64_t i = 0; i < array.size(); ++i) {
    switch (dtype) {
      case DType::Float16: array.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(0x3c00 + i); break;  // 1 + i/1024
      case DType::BFloat16: array.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(0x3f80 + i); break;
      case DType::Float32: array.data<float>()[i] = static_cast<float>(i) * 0.5f - 3.25f; break;
      case DType::Float64: array.data<double>()[i] = static_cast<double>(i) * 1e-3 - 1e9; break;
      case DType::Bool: array.bytes[static_cast<std::size_t>(i)] = i % 2; break;
      case DType::UInt8: array.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(250 - i); break;
      case DType::Int8: array.data<std::int8_t>()[i] = static_cast<std::int8_t>(i * 11 - 128); break;
      case DType::Int16: array.data<std::int16_t>()[i] = static_cast<std::int16_t>(i * 1000 - 32000); break;
      case DType::Int32: array.data<std::int32_t>()[i] = static_cast<std::int32_t>(i * 100000 - 2000000000); break;
      case DType::Int64: array.data<std::int64_t>()[i] = (std::int64_t{1} << 50) * (i % 2 ? -1 : 1) + i; break;
    }
  }
  return array;
}

const std::vector<DType> kNpyDTypes = {DType::Float16, DType::Float32, DType::Float64, DType::Bool, DType::UInt8,
                                       DType::Int8,    DType::Int16,   DType::Int32,   DType::Int64};

nlohmann::json expected_entry(const std::string& file, const std::string& member, const Array& array) {
  nlohmann::json entry = {{"file", file}, {"dtype", dtype_name(array.dtype)}, {"shape", array.shape},
                          {"values", array.to_double()}};
  if (!member.empty()) entry["member"] = member;
  return entry;
}

}  // namespace

TEST_CASE("every array NumPy wrote reads back as NumPy reads it", "[npy]") {
  std::ifstream in(fixture("manifest.json"));
  nlohmann::json manifest = nlohmann::json::parse(in);
  REQUIRE(manifest["arrays"].size() >= 50);
  for (const nlohmann::json& entry : manifest["arrays"]) {
    std::string file = entry["file"];
    bool member = entry.contains("member");
    INFO(file << (member ? " member " + entry["member"].get<std::string>() : std::string()));
    Array array = member ? read_npz(fixture(file), entry["member"], kLimit) : read_npy(fixture(file), kLimit);
    NpyHeader header = member ? read_npz_header(fixture(file), entry["member"]) : read_npy_header(fixture(file));
    CHECK(dtype_name(array.dtype) == entry["dtype"].get<std::string>());
    CHECK(array.shape == entry["shape"].get<std::vector<std::int64_t>>());
    CHECK(array.to_double() == entry["values"].get<std::vector<double>>());
    CHECK(header.dtype == array.dtype);
    CHECK(header.shape == array.shape);
    CHECK(header.element_count == array.size());
    if (entry.contains("fortran_order")) CHECK(header.fortran_order == entry["fortran_order"].get<bool>());
    if (entry.contains("big_endian")) CHECK(header.big_endian == entry["big_endian"].get<bool>());
  }
  for (const auto& [file, names] : manifest["archives"].items()) {
    std::vector<std::string> listed = list_npz(fixture(file));
    std::sort(listed.begin(), listed.end());
    CHECK(listed == names.get<std::vector<std::string>>());
  }
  // np.load also takes the entry's full name.
  CHECK(read_npz(fixture("stored.npz"), "key.npy", kLimit).shape == std::vector<std::int64_t>{3});
}

TEST_CASE("malformed .npy files are refused, naming the file and the problem", "[npy]") {
  test::TempDir dir;
  std::vector<unsigned char> good = file_bytes(fixture("f4_le_c.npy"));  // (2, 3) float32, 128-byte header
  REQUIRE(good.size() == 128 + 24);
  auto refused = [&](std::vector<unsigned char> bytes) {
    std::string path = write_bytes(dir, "bad.npy", bytes);
    std::string message = error_of([&] { read_npy(path, kLimit); });
    CHECK(message.rfind(path + ": ", 0) == 0);
    return message;
  };

  std::vector<unsigned char> bytes = good;
  bytes.resize(128 + 16);
  CHECK_THAT(refused(bytes), Catch::EndsWith(
      "truncated data: header declares 6 elements (24 bytes), file has 16 bytes after its 128-byte header"));
  bytes = good;
  bytes.push_back(0);
  CHECK_THAT(refused(bytes), Catch::Contains("trailing data: header declares 6 elements (24 bytes), file has 25 bytes"));
  bytes = good;
  bytes.resize(60);
  CHECK_THAT(refused(bytes), Catch::Contains("truncated header: header length says 118 bytes, file has 50"));
  bytes.resize(9);
  CHECK_THAT(refused(bytes), Catch::Contains("the file ends inside the header length"));
  bytes = good;
  bytes[1] = 'X';
  CHECK_THAT(refused(bytes), Catch::Contains("not a .npy file: the magic string"));
  CHECK_THAT(refused({}), Catch::Contains("only 0 bytes, too short for the magic"));
  bytes = good;
  bytes[6] = 4;
  CHECK_THAT(refused(bytes), Catch::Contains("unsupported .npy format version 4.0"));
  bytes[6] = 1;
  bytes[7] = 1;
  CHECK_THAT(refused(bytes), Catch::Contains("unsupported .npy format version 1.1"));
  bytes = npy_with_header(header_dict("'<f4'", "(2, 3)"), 24, 2);
  bytes[8] = 0xff;
  bytes[9] = 0xff;
  bytes[10] = 0xff;
  CHECK_THAT(refused(bytes), Catch::Contains("header length 16777215 is over the limit of 10000 bytes"));

  struct Case {
    std::string dict;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[1, 2]", "header is [1, 2] where a dict is expected"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "header is not a valid Python literal: expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", "unexpected text after the dict"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3), }", "is not a valid Python literal"},
      {"{'descr': '<f4', 'fortran_order': nope, 'shape': (2, 3), }", "'nope' is not a literal"},
      {"{'descr': '<f4', 'fortran_order': False, }", "header lacks the key 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "header has an unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", "duplicate key 'descr'"},
      {"{1: '<f4'}", "expected a string key"},
      {header_dict("'<c8'", "(2, 3)"), "dtype '<c8' (complex64) is not supported"},
      {header_dict("'|O'", "(2, 3)"), "dtype '|O' (object) is not supported"},
      {header_dict("'<U3'", "(2, 3)"), "dtype '<U3' (unicode string) is not supported"},
      {header_dict("'|S4'", "(2, 3)"), "dtype '|S4' (byte string) is not supported"},
      {header_dict("'<M8[ns]'", "(2, 3)"), "dtype '<M8[ns]' (datetime64) is not supported"},
      {header_dict("'<u4'", "(2, 3)"), "dtype '<u4' (uint32) is not supported"},
      {header_dict("'<f16'", "(2, 3)"), "dtype '<f16' (float128) is not supported"},
      {header_dict("[('a', '<f4'), ('b', '<i4')]", "(2, 3)"), "structured dtype [('a', '<f4'), ('b', '<i4')] is not supported"},
      {header_dict("'<f4'", "(2, 3)", "1"), "'fortran_order' is 1, expected True or False"},
      {header_dict("'<f4'", "[2, 3]"), "'shape' is [2, 3], expected a tuple of integers"},
      {header_dict("'<f4'", "(6)"), "'shape' is 6, expected a tuple of integers"},
      {header_dict("'<f4'", "(2.5, 3)"), "dim 0 of shape (2.5, 3) is 2.5, not an integer"},
      {header_dict("'<f4'", "(2, '3')"), "dim 1 of shape (2, '3') is '3', not an integer"},
      {header_dict("'<f4'", "(2, None)"), "dim 1 of shape (2, None) is None, not an integer"},
      {header_dict("'<f4'", "(-1, 3)"), "dim 0 of shape (-1, 3) is negative"},
      {header_dict("'<f4'", "(99999999999999999999,)"), "dim 0 of shape (99999999999999999999,) does not fit in int64"},
      {header_dict("'<f4'", "(4294967296, 4294967296)"), "shape (4294967296, 4294967296) has more elements than an int64 can count"},
      {header_dict("'<f8'", "(2305843009213693952,)"), "shape (2305843009213693952,) of float64 needs more bytes than an int64 can count"},
      {header_dict("'<f4'", "((((((((((((((((((2,),),),),),),),),),),),),),),),),),)"), "nesting deeper than 16 levels"},
  };
  for (const Case& c : cases) {
    INFO(c.dict);
    CHECK_THAT(refused(npy_with_header(c.dict, 24)), Catch::Contains(c.message));
  }
  // A header NumPy refuses is refused by read_npy_header too, without reading data.
  std::string path = write_bytes(dir, "complex.npy", npy_with_header(header_dict("'<c16'", "(2,)"), 32));
  CHECK_THAT(error_of([&] { read_npy_header(path); }), Catch::Contains("(complex128) is not supported"));
}

TEST_CASE("limits and non-files are refused before any large allocation", "[npy]") {
  test::TempDir dir;
  CHECK_THAT(error_of([] { read_npy(fixture("f4_le_c.npy"), 5); }),
             Catch::EndsWith("shape (2, 3) has 6 elements, more than the limit of 5"));
  CHECK_NOTHROW(read_npy(fixture("f4_le_c.npy"), 6));
  // A header claiming 10^12 float64 in front of 8 bytes: the limit, or the file's size, refuses
  // it; neither allocates 8 TB.
  std::string huge = write_bytes(dir, "huge.npy", npy_with_header(header_dict("'<f8'", "(1000000, 1000000)"), 8));
  CHECK_THAT(error_of([&] { read_npy(huge, kLimit); }), Catch::Contains("has 1000000000000 elements, more than the limit"));
  CHECK_THAT(error_of([&] { read_npy(huge, std::numeric_limits<std::int64_t>::max()); }),
             Catch::Contains("truncated data: header declares 1000000000000 elements (8000000000000 bytes), file has 8 bytes"));
  CHECK(read_npy_header(huge).element_count == 1000000000000);

  std::string fifo = dir.file("fifo.npy");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (auto read : {+[](const std::string& p) { read_npy(p, kLimit); }, +[](const std::string& p) { read_npy_header(p); },
                    +[](const std::string& p) { read_npz(p, "x", kLimit); }, +[](const std::string& p) { list_npz(p); }}) {
    CHECK_THAT(error_of([&] { read(dir.file("missing.npy")); }), Catch::Contains("missing.npy: cannot open: No such file"));
    CHECK_THAT(error_of([&] { read(dir.path.string()); }), Catch::Contains("is a directory"));
    CHECK_THAT(error_of([&] { read("/dev/zero"); }), Catch::Contains("/dev/zero: is not a regular file"));
    CHECK_THAT(error_of([&] { read(fifo); }), Catch::Contains("fifo.npy: is not a regular file"));
  }
}

TEST_CASE("hostile and damaged .npz archives are refused", "[npy]") {
  auto refused = [](const std::string& name, const std::string& member = "x", std::int64_t limit = kLimit) {
    std::string message = error_of([&] { read_npz(fixture(name), member, limit); });
    CHECK(message.rfind(fixture(name) + ": ", 0) == 0);
    return message;
  };
  CHECK_THAT(refused("bad_duplicate.npz", "a"), Catch::Contains("member \"a\" appears more than once"));
  CHECK_THAT(refused("bad_duplicate_suffix.npz", "a"), Catch::Contains("member \"a\" appears more than once"));
  CHECK_THAT(error_of([] { list_npz(fixture("bad_duplicate.npz")); }), Catch::Contains("appears more than once"));
  CHECK_THAT(refused("bad_traversal.npz", "ok"), Catch::Contains("member name \"sub/../../evil.npy\" is unsafe"));
  CHECK_THAT(error_of([] { list_npz(fixture("bad_absolute.npz")); }), Catch::Contains("member name \"/etc/evil.npy\" is unsafe"));
  CHECK_THAT(refused("bad_bzip2.npz"), Catch::Contains("member \"x\": zip compression method 12 is not supported"));
  CHECK_THAT(refused("bomb_declared.npz"),
             Catch::Contains("member \"x\": zip entry declares 1048704 uncompressed bytes, but its .npy header (10 elements of float64) needs 208"));
  CHECK_THAT(error_of([] { read_npz_header(fixture("bomb_declared.npz"), "x"); }), Catch::Contains("declares 1048704 uncompressed bytes"));
  CHECK_THAT(refused("bomb_lying.npz"), Catch::Contains("member \"x\": holds more data than its declared 208 bytes"));
  CHECK_THAT(refused("bomb_shape.npz"), Catch::Contains("has 1000000000000 elements, more than the limit of 1048576"));
  CHECK_THAT(refused("bomb_shape.npz", "x", std::numeric_limits<std::int64_t>::max()),
             Catch::Contains("declares 128 uncompressed bytes, but its .npy header (1000000000000 elements of float64) needs 8000000000128"));
  CHECK_THAT(refused("not_a_zip.npz"), Catch::Contains("not a readable zip archive: Not a zip archive"));
  CHECK_THAT(refused("f4_le_c.npy"), Catch::Contains("not a readable zip archive"));
  CHECK_THAT(refused("stored.npz", "nope"), Catch::Contains("no member \"nope\""));
  try {
    read_npz(fixture("stored.npz"), "nope", kLimit);
  } catch (const InputError& error) {
    CHECK(error.help() == "members: query, key, mask, scalar, fortran_be, empty");
  }
  CHECK_THAT(refused("stored.npz", "query", 23), Catch::Contains("member \"query\": shape (2, 3, 4) has 24 elements, more than the limit of 23"));
}

TEST_CASE("written .npy and .npz files read back as written, for every dtype", "[npy]") {
  test::TempDir dir;
  // MHACHECK_NPY_KEEP=DIR keeps the files for `gen_npy_fixtures.py --verify DIR` (NumPy).
  const char* keep = std::getenv("MHACHECK_NPY_KEEP");
  fs::path out = keep != nullptr ? fs::path(keep) : dir.path;
  fs::create_directories(out);
  nlohmann::json expected = nlohmann::json::array();
  std::vector<std::pair<std::string, Array>> members;
  std::vector<std::vector<std::int64_t>> shapes = {{2, 3, 4}, {}, {0, 3}, {5}};
  for (DType dtype : kNpyDTypes) {
    for (const auto& shape : shapes) {
      Array array = sample(dtype, shape);
      std::string name = dtype_name(dtype) + "_" + std::to_string(shape.size()) + "d";
      INFO(name);
      std::string path = (out / (name + ".npy")).string();
      write_npy(path, array);
      Array back = read_npy(path, kLimit);
      CHECK(back.dtype == dtype);
      CHECK(back.shape == shape);
      CHECK(back.bytes == array.bytes);
      NpyHeader header = read_npy_header(path);
      CHECK_FALSE(header.fortran_order);
      CHECK_FALSE(header.big_endian);
      CHECK(file_bytes(path).size() % 64 == array.bytes.size() % 64);  // data starts 64-aligned, as NumPy's
      expected.push_back(expected_entry(name + ".npy", "", array));
      members.emplace_back(name, array);
    }
  }
  for (bool compressed : {false, true}) {
    std::string file = compressed ? "all_compressed.npz" : "all_stored.npz";
    std::string path = (out / file).string();
    write_npz(path, members, compressed);
    std::vector<std::string> listed = list_npz(path);
    REQUIRE(listed.size() == members.size());
    for (std::size_t i = 0; i < members.size(); ++i) {
      CHECK(listed[i] == members[i].first);
      Array back = read_npz(path, members[i].first, kLimit);
      CHECK(back.dtype == members[i].second.dtype);
      CHECK(back.shape == members[i].second.shape);
      CHECK(back.bytes == members[i].second.bytes);
      expected.push_back(expected_entry(file, members[i].first, members[i].second));
    }
  }
  CHECK(fs::file_size(out / "all_compressed.npz") < fs::file_size(out / "all_stored.npz"));
  write_npz((out / "none.npz").string(), {}, false);
  CHECK(list_npz((out / "none.npz").string()).empty());
  std::ofstream((out / "expected.json").string()) << expected.dump(1) << "\n";

  // bfloat16 has no .npy dtype; to_double still reads it.
  Array bf16 = sample(DType::BFloat16, {2});
  CHECK(bf16.to_double() == std::vector<double>{1.0, 1.0078125});
  CHECK_THAT(error_of([&] { write_npy(dir.file("bf16.npy"), bf16); }), Catch::Contains("cannot write bfloat16"));
  CHECK_THAT(error_of([&] { write_npz(dir.file("bf16.npz"), {{"w", bf16}}, true); }),
             Catch::Contains("bf16.npz: member \"w\": cannot write bfloat16"));
  CHECK_THAT(error_of([&] { write_npz(dir.file("dup.npz"), {{"a", members[0].second}, {"a", members[0].second}}, true); }),
             Catch::Contains("member \"a\" given twice"));
  CHECK_THAT(error_of([&] { write_npz(dir.file("up.npz"), {{"../a", members[0].second}}, true); }),
             Catch::Contains("member name \"../a\" is empty or unsafe"));
  CHECK(sample(DType::Float16, {3}).to_double() == std::vector<double>{1.0, 1.0009765625, 1.001953125});
  CHECK_THROWS_AS(make_array(DType::Float32, {-1}), std::invalid_argument);
  CHECK_THROWS_AS(make_array(DType::Float64, {1 << 30, 1 << 30, 1 << 30}), std::invalid_argument);
}

TEST_CASE("a failed write leaves nothing behind and the original untouched", "[npy]") {
  test::TempDir dir;
  Array array = sample(DType::Float32, {2, 3});
  std::string original = dir.file("keep.npy");
  write_npy(original, array);
  std::vector<unsigned char> before = file_bytes(original);

  // The parent is a file, not a directory: nothing can be created.
  std::string blocked = dir.file("keep.npy") + "/x.npy";
  CHECK_THAT(error_of([&] { write_npy(blocked, array); }), Catch::Contains("x.npy: cannot write: Not a directory"));
  CHECK_THAT(error_of([&] { write_npy(dir.file("no/such/dir/x.npy"), array); }), Catch::Contains("cannot write: No such file"));
  // The target is a directory: refused before any temporary file is made.
  fs::create_directories(dir.path / "taken.npy" / "inside");
  CHECK_THAT(error_of([&] { write_npy(dir.file("taken.npy"), array); }), Catch::Contains("taken.npy: cannot write: Is a directory"));
  CHECK_THAT(error_of([&] { write_npz(dir.file("taken.npy"), {{"a", array}}, true); }), Catch::Contains("Is a directory"));
  // Refused before any file is opened.
  CHECK_THAT(error_of([&] { write_npy(original, sample(DType::BFloat16, {2})); }), Catch::Contains("bfloat16"));
  CHECK(dir.names() == std::vector<std::string>{"keep.npy", "taken.npy"});
  CHECK(file_bytes(original) == before);

  // A successful write replaces the file whole.
  write_npy(original, sample(DType::Int64, {4}));
  CHECK(read_npy(original, kLimit).dtype == DType::Int64);
  CHECK(dir.names() == std::vector<std::string>{"keep.npy", "taken.npy"});
}

TEST_CASE("npy: the spec reader reads a file's header again only when the file changed", "[npy]") {
  test::TempDir dir;
  std::string path = dir.file("x.npy");
  write_npy(path, make_array(DType::Float32, {2, 3}));
  std::string text = R"({"module": {"type": "MultiheadAttention", "embed_dim": 3, "num_heads": 1},
                         "query": {"file": ")" + path + R"("}, "key": [4, 2, 3], "value": [4, 2, 3]})";
  auto query_shape = [&] { return tuple_str(parse_spec(test::document_from(text)).calls.at(0).tensor("query").tensor->shape); };
  CHECK(query_shape() == "(2, 3)");

  // The same number of bytes with another header, written in place (same inode), and the old
  // modification time put back: to the reader the file is unchanged, so its header is not read.
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  write_npy(dir.file("y.npy"), make_array(DType::Float32, {3, 2}));
  std::vector<unsigned char> other = file_bytes(dir.file("y.npy"));
  REQUIRE(other.size() == static_cast<std::size_t>(before.st_size));
  {
    std::ofstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.write(reinterpret_cast<const char*>(other.data()), static_cast<std::streamsize>(other.size()));
  }
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  CHECK(query_shape() == "(2, 3)");

  // A new modification time: read again.
  times[1].tv_sec += 1;
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  CHECK(query_shape() == "(3, 2)");
}
