#include <catch2/catch.hpp>

#include <fmt/format.h>

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

TEST_CASE("dim arithmetic refuses overflow and sums of terms", "[shape]") {
  CHECK_FALSE(dim_mul(DimExpr::constant(std::int64_t{1} << 62), 4).has_value());
  CHECK_FALSE(dim_add(DimExpr::constant(INT64_MAX), 1).has_value());
  CHECK(dim_mul(DimExpr::named("A"), DimExpr::constant(0))->is_constant());
  CHECK_FALSE(dim_mul(*dim_add(DimExpr::named("S"), 1), DimExpr::named("T")).has_value());  // S*T + T
  CHECK_FALSE(dim_add(DimExpr::named("S"), DimExpr::named("T")).has_value());
  CHECK_FALSE(dim_mul(DimExpr{std::int64_t{1} << 40, Symbol("B"), 0}, DimExpr{std::int64_t{1} << 40, Symbol("T"), 0}).has_value());
  DimExpr four{1, Symbol("A*B*C*D"), 0};
  CHECK(dim_mul(four, four)->factors().size() == 8);
  CHECK_FALSE(dim_mul(*dim_mul(four, four), DimExpr::named("E")).has_value());  // 9 factors: too many
}

TEST_CASE("a product of symbols is one dim, its factors in one order", "[shape]") {
  DimExpr bt = *dim_mul(DimExpr::named("T"), DimExpr::named("B"));
  CHECK(bt == DimExpr{1, Symbol("B*T"), 0});
  CHECK(bt.is_monomial());
  CHECK_FALSE(bt.is_plain_symbol());
  CHECK_FALSE(DimExpr::named("B").is_monomial());
  CHECK(bt.factors() == std::vector<std::string>{"B", "T"});
  CHECK(DimExpr::constant(4).factors().empty());
  CHECK(monomial({"T", "B", "T"}) == "B*T*T");
  CHECK(dim_mul(*dim_mul(DimExpr::named("B"), 8), DimExpr::named("T"))->str() == "8*B*T");
  CHECK(dim_mul(bt, DimExpr::named("B"))->str() == "B*B*T");
  CHECK(dim_add(bt, *dim_mul(DimExpr::named("B"), DimExpr::named("T")))->str() == "2*B*T");  // B*T + T*B
  CHECK(dim_add(bt, 1)->str() == "B*T+1");
  CHECK_FALSE(dim_add(bt, DimExpr::named("B")).has_value());
  CHECK(numel_str({bt, DimExpr::constant(8)}) == "8*B*T");
  CHECK(tuple_str({bt, DimExpr::constant(8)}) == "(B*T, 8)");
}

TEST_CASE("products of symbols: bindings and substitutions rewrite them", "[shape]") {
  Symbols symbols;
  DimExpr bt{1, Symbol("B*T"), 0};
  SECTION("a bound factor") {
    symbols.bind("B", 4);
    CHECK(symbols.resolve(*dim_add(*dim_mul(bt, 2), 1)) == DimExpr{8, Symbol("T"), 1});  // 2*B*T+1 = 8*T+1
    symbols.bind("T", 5);
    CHECK(symbols.resolve(bt) == DimExpr::constant(20));
  }
  SECTION("a factor that stands for a multiple of another symbol") {
    CHECK(symbols.require_equal(DimExpr::named("B"), *dim_mul(DimExpr::named("S"), 2)).condition == "B == 2*S");
    CHECK(symbols.resolve(bt) == DimExpr{2, Symbol("S*T"), 0});
  }
  SECTION("a factor that stands for a sum leaves the product as it is") {
    symbols.require_equal(DimExpr::named("B"), *dim_add(DimExpr::named("S"), 1));
    CHECK(symbols.resolve(bt) == bt);  // (S+1)*T is not one dim
  }
  SECTION("a symbol hidden in an unresolved factor is not solved for: no cycle") {
    // X -> S+1 leaves X*T unresolved; S -> X*T would make resolving S endless.
    CHECK(symbols.require_equal(DimExpr::named("X"), *dim_add(DimExpr::named("S"), 1)).condition == "X == S+1");
    auto equality = symbols.require_equal(DimExpr::named("S"), DimExpr{1, Symbol("T*X"), 0});
    CHECK(equality.verdict == Symbols::Verdict::EqualIf);
    CHECK(equality.condition == "S == T*X");
    CHECK(symbols.resolve(DimExpr::named("S")) == DimExpr::named("S"));
    CHECK(symbols.resolve(DimExpr::named("X")) == DimExpr{1, Symbol("S"), 1});
  }
  SECTION("a chain of squares stays small and quick to resolve") {
    // S0 -> S1*S1, S1 -> S2*S2, ...: fully resolved, S0 would have 2^40 factors.
    for (int k = 0; k < 40; ++k) {
      DimExpr next = DimExpr::named(fmt::format("S{}", k + 1));
      symbols.require_equal(DimExpr::named(fmt::format("S{}", k)), *dim_mul(next, next));
    }
    CHECK(symbols.resolve(DimExpr::named("S38")) == DimExpr{1, Symbol("S40*S40*S40*S40"), 0});
    DimExpr s0 = symbols.resolve(DimExpr::named("S0"));
    CHECK(s0 != DimExpr::named("S0"));
    CHECK(s0.factors().size() <= 8);
  }
  SECTION("a product too large for an int64 is left as it is") {
    symbols.bind("B", std::int64_t{1} << 40);
    symbols.bind("T", std::int64_t{1} << 40);
    CHECK(symbols.resolve(bt) == bt);
  }
  SECTION("a symbol forced equal to a product stands for it") {
    auto equality = symbols.require_equal(DimExpr::named("M"), bt);
    CHECK(equality.verdict == Symbols::Verdict::EqualIf);
    CHECK(equality.condition == "M == B*T");
    symbols.bind("B", 2);
    symbols.bind("T", 3);
    CHECK(symbols.resolve(DimExpr::named("M")) == DimExpr::constant(6));
  }
}

TEST_CASE("equalities with products of symbols", "[shape]") {
  Symbols symbols;
  DimExpr bt{1, Symbol("B*T"), 0};
  CHECK(symbols.compare(bt, *parse_dim_expr("T*B")) == Symbols::Verdict::Equal);
  CHECK(symbols.compare(bt, *dim_add(bt, 1)) == Symbols::Verdict::Unequal);
  CHECK(symbols.compare(*dim_mul(bt, 2), *dim_add(bt, 3)) == Symbols::Verdict::EqualIf);  // B*T == 3
  CHECK(symbols.compare(*dim_mul(bt, 2), *dim_add(bt, -3)) == Symbols::Verdict::Unequal);  // B*T == -3
  CHECK(symbols.compare(*dim_mul(bt, 4), DimExpr::constant(6)) == Symbols::Verdict::Unequal);
  SECTION("a product against a constant is a condition on several symbols: nothing is recorded") {
    auto equality = symbols.require_equal(bt, DimExpr::constant(12));
    CHECK(equality.verdict == Symbols::Verdict::EqualIf);
    CHECK(equality.condition == "B*T == 12");
    CHECK(symbols.resolve(DimExpr::named("B")) == DimExpr::named("B"));
    CHECK(symbols.resolve(bt) == bt);
    CHECK(symbols.compare(bt, DimExpr::constant(13)) == Symbols::Verdict::EqualIf);  // B=1, T=13 is still possible
  }
  SECTION("a symbol against a product that contains it (T == 1) records nothing") {
    auto equality = symbols.require_equal(DimExpr::named("B"), bt);
    CHECK(equality.verdict == Symbols::Verdict::EqualIf);
    CHECK(equality.condition == "B == B*T");
    CHECK(symbols.resolve(DimExpr::named("B")) == DimExpr::named("B"));
  }
  SECTION("two different products record nothing") {
    auto equality = symbols.require_equal(bt, DimExpr{1, Symbol("H*S"), 0});
    CHECK(equality.verdict == Symbols::Verdict::EqualIf);
    CHECK(symbols.resolve(bt) == bt);
    CHECK(symbols.resolve(DimExpr{1, Symbol("H*S"), 0}) == DimExpr{1, Symbol("H*S"), 0});
  }
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

TEST_CASE("dims written as text: a product of symbols times a constant plus a constant", "[shape]") {
  CHECK(parse_dim_expr("B") == DimExpr::named("B"));
  CHECK(parse_dim_expr("8*B") == DimExpr{8, Symbol("B"), 0});
  CHECK(parse_dim_expr("B*8") == DimExpr{8, Symbol("B"), 0});
  CHECK(parse_dim_expr("T+1") == DimExpr{1, Symbol("T"), 1});
  CHECK(parse_dim_expr("2*seq_len-1") == DimExpr{2, Symbol("seq_len"), -1});
  CHECK(parse_dim_expr("B*T") == DimExpr{1, Symbol("B*T"), 0});
  CHECK(parse_dim_expr("T*B") == DimExpr{1, Symbol("B*T"), 0});
  CHECK(parse_dim_expr("8*T*B") == DimExpr{8, Symbol("B*T"), 0});
  CHECK(parse_dim_expr("B*T*8") == DimExpr{8, Symbol("B*T"), 0});
  CHECK(parse_dim_expr("T*8*B") == DimExpr{8, Symbol("B*T"), 0});
  CHECK(parse_dim_expr("B*T+1") == DimExpr{1, Symbol("B*T"), 1});
  CHECK(parse_dim_expr("T*T") == DimExpr{1, Symbol("T*T"), 0});
  for (const DimExpr& dim : {DimExpr{3, Symbol("S"), 2}, DimExpr{1, Symbol("S"), -4}, DimExpr::named("x1"), DimExpr{2, Symbol("B*T*T"), -1}}) {
    CHECK(parse_dim_expr(dim.str()) == dim);  // what mhacheck prints reads back
  }
  for (const char* refused : {"", "8", "0*B", "B*0", "8*B*2", "2*B*T*3", "B**T", "B*T*", "*B", "B*(T+1)", "B * T", "B*T+S", "8*1", "B +1", "B+", "1B", "B+-1", "2*B*", "B+1099511627777", "-B", "A*B*C*D*E*F*G*H*I"}) {
    CAPTURE(refused);
    CHECK_FALSE(parse_dim_expr(refused).has_value());
  }
}

TEST_CASE("opaque sizes print with their parentheses once multiplied, and read back as the same size", "[shape]") {
  // cat's P+T (a KV cache joined with new tokens) doubled by cat([kv, kv]), and slicing's (T+1)//2.
  const DimExpr sum = DimExpr::named("P+T"), halved = DimExpr::named("(T+1)//2");
  CHECK(sum.str() == "P+T");
  CHECK(dim_add(sum, sum)->str() == "2*(P+T)");
  CHECK(dim_mul(halved, 2)->str() == "2*((T+1)//2)");
  CHECK(dim_add(sum, 1)->str() == "P+T+1");
  CHECK(dim_mul(sum, DimExpr::named("H"))->str() == "H*(P+T)");
  CHECK(dim_mul(sum, DimExpr::named("H"))->factors() == std::vector<std::string>{"H", "P+T"});
  CHECK(dim_mul(halved, DimExpr::named("B"))->str() == "((T+1)//2)*B");  // the factors sorted by their text
  for (const DimExpr& dim : {sum, halved, *dim_add(sum, sum), *dim_mul(halved, 2), *dim_add(sum, 1), *dim_add(*dim_mul(sum, 3), -2),
                             *dim_mul(sum, DimExpr::named("H")), *dim_mul(halved, DimExpr::named("B")), *dim_add(halved, 1),
                             DimExpr::named("(P+T+1)//2")}) {
    CAPTURE(dim.str());
    CHECK(parse_dim_expr(dim.str()) == dim);
  }
  CHECK(parse_dim_expr("T+P") == sum);  // terms in any order, as cat sorts them
  CHECK(parse_dim_expr("((T+1)//2)") == halved);
  // "2*P+T" is 2*P + T or 2*(P+T): neither is one DimExpr's text.
  for (const char* refused : {"2*P+T", "(P+T", "(T)//1", "(2*T+1)//2", "(T+1)", "P+T*2", "(P+T)//"}) {
    CAPTURE(refused);
    CHECK_FALSE(parse_dim_expr(refused).has_value());
  }
}

TEST_CASE("an opaque size is computed from its terms once they are bound", "[shape]") {
  // A KV-cache mask declared (B, "P+T") with P and T bound in "dims" is (B, 21), as the cat of
  // the cached and the new keys is: not a size of its own that only a condition equals.
  Symbols symbols;
  const DimExpr sum = *parse_dim_expr("P+T");
  CHECK(symbols.resolve(sum) == sum);  // nothing bound: still opaque
  symbols.bind("P", 20);
  CHECK(symbols.resolve(sum) == DimExpr{1, Symbol("T"), 20});  // one term bound
  CHECK(symbols.resolve(*parse_dim_expr("P+T+Q")) == *parse_dim_expr("Q+T+20"));
  symbols.bind("T", 1);
  CHECK(symbols.resolve(sum) == DimExpr::constant(21));
  CHECK(symbols.resolve(*parse_dim_expr("P+T+1")) == DimExpr::constant(22));
  CHECK(symbols.resolve(*parse_dim_expr("2*(P+T)")) == DimExpr::constant(42));
  CHECK(symbols.resolve(*parse_dim_expr("H*(P+T)")) == DimExpr{21, Symbol("H"), 0});
  CHECK(symbols.resolve(*parse_dim_expr("(P+T+1)//2")) == DimExpr::constant(11));
  CHECK(symbols.resolve(*parse_dim_expr("(T+4)//2")) == DimExpr::constant(2));
  // Products and differences of bound symbols were resolved already; they stay so.
  CHECK(symbols.resolve(*parse_dim_expr("2*P")) == DimExpr::constant(40));
  CHECK(symbols.resolve(*parse_dim_expr("P-1")) == DimExpr::constant(19));
  CHECK(symbols.resolve(*parse_dim_expr("P*T")) == DimExpr::constant(20));
  CHECK(symbols.require_equal(sum, DimExpr::constant(21)).verdict == Symbols::Verdict::Equal);
}

TEST_CASE("an equality of a symbol with an opaque size made of it records nothing", "[shape]") {
  // P == P+T (a mask of the cache's length used with the joined keys) is T == 0, which no size
  // satisfies: unequal, and neither P nor "P+T" stands for the other afterwards.
  Symbols symbols;
  const DimExpr sum = *parse_dim_expr("P+T");
  CHECK(symbols.require_equal(DimExpr::named("P"), sum).verdict == Symbols::Verdict::Unequal);
  CHECK(symbols.require_equal(sum, DimExpr::named("P")).verdict == Symbols::Verdict::Unequal);
  CHECK(symbols.compare(*parse_dim_expr("P+T+1"), DimExpr::named("T")) == Symbols::Verdict::Unequal);
  CHECK(symbols.resolve(DimExpr::named("P")) == DimExpr::named("P"));
  CHECK(symbols.resolve(sum) == sum);
  // A symbol with a substitution inside the opaque size makes it no target either.
  Symbols others;
  others.require_equal(DimExpr::named("T"), DimExpr::named("S"));
  CHECK(others.require_equal(DimExpr::named("X"), sum).verdict == Symbols::Verdict::EqualIf);
  CHECK(others.resolve(DimExpr::named("X")) == DimExpr::named("X"));
  symbols.require_equal(DimExpr::named("Y"), *parse_dim_expr("(Q+1)//2"));
  symbols.bind("Q", 7);
  CHECK(symbols.resolve(DimExpr::named("Y")) == DimExpr::constant(4));
}

TEST_CASE("sizes sharing a term of an opaque sum are compared by what is left", "[shape]") {
  // P+T == P+3: the shared P cancels, so T == 3 is what is recorded, not "P+T" -> P+3.
  Symbols symbols;
  const DimExpr sum = *parse_dim_expr("P+T");
  Symbols::Equality three = symbols.require_equal(sum, *parse_dim_expr("P+3"));
  CHECK(three.verdict == Symbols::Verdict::EqualIf);
  CHECK(three.condition == "T == 3");
  CHECK(symbols.resolve(DimExpr::named("T")) == DimExpr::constant(3));
  CHECK(symbols.resolve(sum) == *parse_dim_expr("P+3"));
  // P+T == P-2 needs T == -2: no size.
  CHECK(symbols.compare(sum, *parse_dim_expr("P-2")) == Symbols::Verdict::Unequal);
  // P+T == Q+T is P == Q.
  Symbols others;
  Symbols::Equality same = others.require_equal(sum, *parse_dim_expr("Q+T"));
  CHECK(same.verdict == Symbols::Verdict::EqualIf);
  CHECK(same.condition == "P == Q");
  CHECK(others.resolve(DimExpr::named("P")) == DimExpr::named("Q"));
  // P+T == Q (no shared term) still binds the cat's length as before.
  Symbols cat;
  CHECK(cat.require_equal(sum, DimExpr::named("Q")).verdict == Symbols::Verdict::EqualIf);
}
