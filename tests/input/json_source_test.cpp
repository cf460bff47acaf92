#include <catch2/catch.hpp>

#include <filesystem>

#include "mhacheck/json_source.hpp"
#include "test_support.hpp"

using namespace mhacheck;

TEST_CASE("values and keys are located by JSON pointer, comments allowed", "[json]") {
  JsonDocument document = test::document_from("// a comment\n{\n  \"query\": [32, /* L */ 1, 512],\n  \"k\": {\"a/b\": true}\n}\n");
  Location dim = document.values.find("/query/1");
  CHECK(dim.line == 3);
  CHECK(dim.column == 25);
  CHECK(dim.length == 1);
  CHECK(document.values.find("/query/2").column == 28);
  CHECK(document.values.find("/query/2").length == 3);
  Location key = document.keys.find("/query");
  CHECK(key.line == 3);
  CHECK(key.column == 3);
  CHECK(document.values.find("/k/a~1b").line == 4);
  // Unknown pointers fall back to the nearest enclosing element but keep the pointer asked.
  Location fallback = document.values.find("/query/7");
  CHECK(fallback.column == 12);
  CHECK(fallback.pointer == "/query/7");
}

TEST_CASE("child pointers escape '~' and '/' as RFC 6901 does, and locate what they name", "[json]") {
  CHECK(child_pointer("/k", "a/b") == "/k/a~1b");
  CHECK(child_pointer("/k", "~x/~") == "/k/~0x~1~0");
  CHECK(child_pointer("", "query") == "/query");
  CHECK(child_pointer("/calls", 12345) == "/calls/12345");
  CHECK(child_pointer("", std::size_t{0}) == "/0");
  JsonDocument document = test::document_from("{\"k\": {\"a/b\": [1, 2]}}");
  CHECK(document.values.find(child_pointer(child_pointer("/k", "a/b"), 1)).column == 19);
}

TEST_CASE("syntax errors name line, column and what was expected", "[json]") {
  try {
    test::document_from("{\n  \"a\": [1, 2,,]\n}");
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(error.location().line == 2);
    CHECK(error.location().column == 14);
    CHECK(std::string(error.what()).find("unexpected ','") != std::string::npos);
    CHECK(error.kind() == InputError::Kind::Syntax);
  }
  CHECK_THROWS_AS(test::document_from("{\"a\": 1"), InputError);
  CHECK_THROWS_AS(test::document_from(""), InputError);
  CHECK_THROWS_WITH(test::document_from("\"\xff\""), Catch::Contains("UTF-8"));
}

TEST_CASE("duplicate keys and deep nesting are refused", "[json]") {
  CHECK_THROWS_WITH(test::document_from("{\"a\": 1,\n \"a\": 2}"), Catch::Contains("duplicate key \"a\""));
  std::string deep(100, '[');
  CHECK_THROWS_WITH(test::document_from(deep), Catch::Contains("nested deeper than 64"));
  std::string ok = std::string(60, '[') + std::string(60, ']');
  CHECK_NOTHROW(test::document_from(ok));
}

TEST_CASE("a long key above a large array is refused before its pointers fill the memory", "[json]") {
  // Every element's pointer repeats the key: 300 elements under a 100,000-byte key would be
  // 30 MB of pointers for 100 KB of text.
  std::string key(100000, 'k');
  std::string elements = "0";
  for (int i = 1; i < 300; ++i) elements += ",0";
  CHECK_THROWS_WITH(test::document_from("{\"" + key + "\": [" + elements + "]}"),
                    Catch::Contains("JSON pointers of the spec's elements take more than 16 times its size") &&
                        Catch::Contains("here at /kkkk"));
  // The same array under a short key is an ordinary document.
  JsonDocument fine = test::document_from("{\"k\": [" + elements + "]}");
  CHECK(fine.values.find("/k/299").column == static_cast<int>(elements.size()) + 7);
}

TEST_CASE("only regular files within the size limit are read", "[json]") {
  CHECK_THROWS_WITH(read_source_file("/nonexistent/spec.json", 1000), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(read_source_file(std::filesystem::temp_directory_path().string(), 1000), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(read_source_file("/dev/zero", 1000), Catch::Contains("not a regular file"));
  std::string path = std::string(MHACHECK_SOURCE_DIR) + "/examples/seed_example1.json";
  CHECK_THROWS_WITH(read_source_file(path, 10), Catch::Contains("larger than the limit"));
  CHECK(read_source_file(path, 100000)->text.find("\"query\"") != std::string::npos);
}

TEST_CASE("numbers beyond double's range are input errors, not crashes", "[json]") {
  CHECK_THROWS_WITH(test::document_from(R"({"value": [3, 2, 1e400]})"), "number overflow parsing '1e400'");
}

TEST_CASE("a NUL byte is refused where it stands (nlohmann/json would stop reading there)", "[json]") {
  try {
    test::document_from(std::string("// x\0y\n{}", 9));
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == "a NUL byte in the spec");
    CHECK(error.location().line == 1);
    CHECK(error.location().column == 5);
  }
}

TEST_CASE("a line comment ends at a carriage return, as nlohmann/json reads it", "[json]") {
  JsonDocument document = test::document_from("{\"a\": // note\r\"float16\", \"b\": 1}");
  CHECK(document.value["a"] == "float16");
  CHECK(document.values.find("/a").column == 15);
  CHECK(document.values.find("/b").column == 31);
}
