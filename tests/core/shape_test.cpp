#include <catch2/catch.hpp>

#include "mhacheck/shape.hpp"

using namespace mhacheck;

TEST_CASE("dims print as PyTorch and Python print them", "[shape]") {
  CHECK(DimExpr::constant(512).str() == "512");
  CHECK(DimExpr::named("S").str() == "S");
  CHECK(dim_add(DimExpr::named("S"), 2)->str() == "S+2");
  CHECK(dim_mul(DimExpr::named("B"), 8)->str() == "8*B");
  CHECK(tuple_str({DimExpr::constant(10)}) == "(10,)");
  CHECK(tuple_str({DimExpr::constant(2), DimExpr::named("S")}) == "(2, S)");
  CHECK(torch_size_str({DimExpr::constant(2), DimExpr::constant(3)}) == "torch.Size([2, 3])");
  CHECK(numel_str({DimExpr::constant(32), DimExpr::constant(10), DimExpr::constant(512)}) == "163840");
  CHECK(numel_str({DimExpr::named("L"), DimExpr::constant(2), DimExpr::constant(8)}) == "16*L");
}

TEST_CASE("dim arithmetic refuses overflow and products of symbols", "[shape]") {
  CHECK_FALSE(dim_mul(DimExpr::constant(std::int64_t{1} << 62), 4).has_value());
  CHECK_FALSE(dim_add(DimExpr::constant(INT64_MAX), 1).has_value());
  CHECK_FALSE(dim_mul(DimExpr::named("A"), DimExpr::named("B")).has_value());
  CHECK(dim_mul(DimExpr::named("A"), DimExpr::constant(0))->is_constant());
}

TEST_CASE("equalities between constants and symbols", "[shape]") {
  Symbols symbols;
  SECTION("constants") {
    CHECK(symbols.require_equal(DimExpr::constant(4), DimExpr::constant(4)).verdict == Symbols::Verdict::Equal);
    CHECK(symbols.require_equal(DimExpr::constant(4), DimExpr::constant(5)).verdict == Symbols::Verdict::Unequal);
  }
  SECTION("a symbol forced to a value is bound, once") {
    auto first = symbols.require_equal(*dim_mul(DimExpr::named("B"), 8), DimExpr::constant(16));
    CHECK(first.verdict == Symbols::Verdict::EqualIf);
    CHECK(first.condition == "B == 2");
    CHECK(symbols.resolve(DimExpr::named("B")) == DimExpr::constant(2));
    CHECK(symbols.require_equal(DimExpr::named("B"), DimExpr::constant(2)).verdict == Symbols::Verdict::Equal);
    CHECK(symbols.require_equal(DimExpr::named("B"), DimExpr::constant(3)).verdict == Symbols::Verdict::Unequal);
  }
  SECTION("no integral solution is unequal") {
    CHECK(symbols.require_equal(*dim_mul(DimExpr::named("B"), 8), DimExpr::constant(12)).verdict == Symbols::Verdict::Unequal);
    CHECK(symbols.require_equal(DimExpr::named("S"), *dim_add(DimExpr::named("S"), 1)).verdict == Symbols::Verdict::Unequal);
    CHECK(symbols.require_equal(*dim_add(DimExpr::named("S"), 5), DimExpr::constant(2)).verdict == Symbols::Verdict::Unequal);
  }
  SECTION("two symbols forced equal become one") {
    auto equality = symbols.require_equal(DimExpr::named("S"), DimExpr::named("T"));
    CHECK(equality.verdict == Symbols::Verdict::EqualIf);
    CHECK(equality.condition == "S == T");
    CHECK(symbols.compare(DimExpr::named("S"), DimExpr::named("T")) == Symbols::Verdict::Equal);
    CHECK(symbols.compare(*dim_add(DimExpr::named("T"), 1), *dim_add(DimExpr::named("S"), 1)) == Symbols::Verdict::Equal);
  }
  SECTION("a multiple of a symbol") {
    auto equality = symbols.require_equal(DimExpr::named("M"), *dim_mul(DimExpr::named("B"), 4));
    CHECK(equality.condition == "M == 4*B");
    symbols.bind("B", 3);
    CHECK(symbols.resolve(DimExpr::named("M")) == DimExpr::constant(12));
  }
  SECTION("dims bindings resolve") {
    symbols.bind("B", 32);
    CHECK(symbols.resolve(*dim_add(DimExpr::named("B"), 1)) == DimExpr::constant(33));
  }
}

TEST_CASE("symbols are positive sizes: an equality that needs 0 does not hold", "[shape]") {
  Symbols symbols;
  CHECK(symbols.require_equal(DimExpr::named("B"), *dim_mul(DimExpr::named("B"), 2)).verdict == Symbols::Verdict::Unequal);
  CHECK(symbols.require_equal(*dim_add(DimExpr::named("S"), 3), DimExpr::constant(3)).verdict == Symbols::Verdict::Unequal);
  CHECK(symbols.require_equal(DimExpr::named("S"), DimExpr::constant(0)).verdict == Symbols::Verdict::Unequal);
}

TEST_CASE("dims written as text: a symbol times a constant plus a constant", "[shape]") {
  CHECK(parse_dim_expr("B") == DimExpr::named("B"));
  CHECK(parse_dim_expr("8*B") == DimExpr{8, "B", 0});
  CHECK(parse_dim_expr("B*8") == DimExpr{8, "B", 0});
  CHECK(parse_dim_expr("T+1") == DimExpr{1, "T", 1});
  CHECK(parse_dim_expr("2*seq_len-1") == DimExpr{2, "seq_len", -1});
  for (const DimExpr& dim : {DimExpr{3, "S", 2}, DimExpr{1, "S", -4}, DimExpr::named("x1")}) {
    CHECK(parse_dim_expr(dim.str()) == dim);  // what mhacheck prints reads back
  }
  for (const char* refused : {"", "8", "B*T", "0*B", "B*0", "8*B*2", "B +1", "B+", "1B", "B+-1", "2*B*", "B+1099511627777", "-B"}) {
    CAPTURE(refused);
    CHECK_FALSE(parse_dim_expr(refused).has_value());
  }
}
