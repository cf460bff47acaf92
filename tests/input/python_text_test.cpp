#include <catch2/catch.hpp>

#include <cmath>

#include "mhacheck/python_text.hpp"
#include "test_support.hpp"

using namespace mhacheck;
using nlohmann::json;

namespace {
Location origin() {
  Location location;
  location.source = std::make_shared<SourceText>(SourceText{"--module", ""});
  location.line = 1;
  location.column = 1;
  return location;
}

// Where and why the text is refused: "LINE:COLUMN: message".
std::string error_at(const std::string& text) {
  try {
    parse_module_call(text, origin());
  } catch (const InputError& error) {
    return std::to_string(error.location().line) + ":" + std::to_string(error.location().column) + ": " + error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("constructor calls as pasted from Python", "[python]") {
  json module = parse_module_call("nn.MultiheadAttention(512, 8, kdim=256, vdim=None, batch_first=True, dtype=torch.float64)", origin());
  CHECK(module == json{{"type", "MultiheadAttention"}, {"embed_dim", 512}, {"num_heads", 8}, {"kdim", 256},
                       {"vdim", nullptr}, {"batch_first", true}, {"dtype", "float64"}});
  CHECK(parse_module_call("MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.1,)", origin())["dropout"] == 0.1);
  CHECK(parse_module_call("torch.nn.MultiheadAttention(8, 2, 0.0, False, True, True)", origin())["add_zero_attn"] == true);
  CHECK(module_call_text(module) == "nn.MultiheadAttention(512, 8, kdim=256, vdim=None, batch_first=True, dtype=torch.float64)");
  // int(a / b), as HF models compute a head size: true division truncated toward zero.
  json query = parse_module_call("config.hidden_size = 768\nconfig.num_attention_heads = 12\n"
                                 "self.attention_head_size = int(config.hidden_size / config.num_attention_heads)\n"
                                 "self.query = nn.Linear(config.hidden_size, 3 * self.attention_head_size)",
                                 origin());
  CHECK(query["out_features"] == 192);
  // A subscript target, as torchvision's VisionTransformer builds its head.
  CHECK(parse_module_call("heads_layers[\"head\"] = nn.Linear(hidden_dim, num_classes)", origin(), {{"hidden_dim", 768}, {"num_classes", 1000}}) ==
        json{{"type", "Linear"}, {"in_features", 768}, {"out_features", 1000}});
  CHECK(parse_module_call("nn.Linear(int(-7 / 2) + 8, int(7))", origin()) == json{{"type", "Linear"}, {"in_features", 5}, {"out_features", 7}});  // int(-3.5) is -3
}

TEST_CASE("bad constructor calls point at the offending text", "[python]") {
  auto error_at = [](const std::string& text) {
    try {
      parse_module_call(text, origin());
    } catch (const InputError& error) {
      return std::to_string(error.location().column) + ": " + error.what();
    }
    return std::string("no error");
  };
  CHECK(error_at("nn.MultiheadAttention(512, 8, batchfirst=True)") ==
        "31: MultiheadAttention.__init__() got an unexpected keyword argument 'batchfirst' (did you mean \"batch_first\"?)");
  CHECK(error_at("nn.MultiheadAttention(512)") == "1: MultiheadAttention.__init__() missing required argument: 'num_heads'");
  CHECK(error_at("nn.MultiheadAttention(512, 8, batch_first=yes)") == "43: batch_first must be True or False, found 'yes', which nothing binds");
  CHECK(error_at("nn.MultiheadAttention(512, 8") == "29: expected ')', found end of text");
  CHECK(error_at("nn.Conv3d(4, 4, 3)").find("unknown module 'nn.Conv3d'") != std::string::npos);
  CHECK(error_at("nn.TransformerEncoder(nn.LayerNorm(8), 2)") == "23: expected an nn.TransformerEncoderLayer here, found nn.LayerNorm");
  CHECK(error_at("nn.MultiheadAttention(num_heads=8, 512)") == "36: positional argument follows keyword argument");
}

TEST_CASE("shapes as printed by PyTorch, Python and people", "[python]") {
  CHECK(parse_shape_text("torch.Size([32, 1, 512])", origin()).shape == json{32, 1, 512});
  CHECK(parse_shape_text("(32, 10, 256)", origin()).shape == json{32, 10, 256});
  CHECK(parse_shape_text("[B, 10, 'seq']", origin()).shape == json{"B", 10, "seq"});
  CHECK(parse_shape_text("(10,)", origin()).shape == json{10});
  CHECK(parse_shape_text("3, 4", origin()).shape == json{3, 4});
  CHECK(parse_shape_text("torch.Size([])", origin()).shape == json::array());
  ShapeText masked = parse_shape_text("(2, 5):uint8", origin());
  CHECK(masked.shape == json{2, 5});
  CHECK(masked.dtype == "uint8");
  ShapeText located = parse_shape_text("(32, 10, 256)", origin());
  REQUIRE(located.dims.size() == 3);
  CHECK(located.dims[1].column == 6);
  CHECK(located.dims[2].length == 3);
  CHECK_THROWS_WITH(parse_shape_text("(2, -5)", origin()), Catch::Contains("dim -5 is negative"));
  CHECK_THROWS_WITH(parse_shape_text("(2, 5):int3", origin()), Catch::Contains("unknown dtype 'int3'"));
  CHECK_THROWS_WITH(parse_shape_text("(2, 5", origin()), Catch::Contains("expected ')'"));
  CHECK_THROWS_WITH(parse_shape_text("(2, 5.5)", origin()), Catch::Contains("expected a dim"));
}

TEST_CASE("bytes outside ASCII are refused where they stand", "[python]") {
  try {
    parse_shape_text("(\xff, 2, 8)", origin());
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == "unexpected byte 0xff: only ASCII text is read here");
    CHECK(error.location().column == 2);
  }
  CHECK_THROWS_WITH(parse_module_call("nn.MultiheadAttention(8, 2, device='\xc3\xa9')", origin()), Catch::Contains("unexpected byte 0xc3"));
}

TEST_CASE("Python as people write it: assignments, several lines, names and integer arithmetic", "[python]") {
  json assigned = parse_module_call("self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=0.1, batch_first=True)", origin(),
                                    {{"d_model", 512}, {"n_heads", 8}});
  CHECK(assigned == json{{"type", "MultiheadAttention"}, {"embed_dim", 512}, {"num_heads", 8}, {"dropout", 0.1}, {"batch_first", true}});
  // Earlier lines bind names; comments, continuations, a trailing comma, torch.nn.
  json lines = parse_module_call(
      "d_model = 512  # width\n"
      "n_heads = d_model // 64\n"
      "attn = torch.nn.MultiheadAttention(\n"
      "    d_model, \\\n"
      "    n_heads, batch_first=True,\n"
      ")\n",
      origin());
  CHECK(lines["embed_dim"] == 512);
  CHECK(lines["num_heads"] == 8);
  // Python's integer arithmetic: precedence, parentheses, // floors towards minus infinity.
  CHECK(parse_module_call("nn.Linear(2 + 3 * (4 - 1), -7 // 2 + 10)", origin()) == json{{"type", "Linear"}, {"in_features", 11}, {"out_features", 6}});
  CHECK(parse_module_call("nn.Linear(7 // -2 + 10, 1_000)", origin())["in_features"] == 6);
  // ** binds tighter than a unary minus on its left and takes one on its right, as in Python;
  // with a negative or float exponent it makes a float: a scale, never a size.
  CHECK(parse_module_call("n = 2 ** 3 ** 2\nnn.Linear(n, -2 ** 2 + 12)", origin()) == json{{"type", "Linear"}, {"in_features", 512}, {"out_features", 8}});
  CHECK(parse_module_call("head_dim = 64\nscale = head_dim ** -0.5\neps = scale * 2 ** -4\nnn.LayerNorm(head_dim, eps=eps)", origin())["eps"] ==
        0.125 / 16);
  CHECK(parse_module_call("nn.Linear(int(64 ** 0.5), 4)", origin())["in_features"] == 8);
  CHECK(parse_module_call("nn.Linear((-1) ** 9223372036854775807 + 3, 0 ** 0 + 1 ** 99 + (-2) ** 3 + 10)", origin()) ==
        json{{"type", "Linear"}, {"in_features", 2}, {"out_features", 4}});
  // A lone unbound name stays a symbol for the spec's dims to bind; dropout may stay unbound.
  json symbolic = parse_module_call("nn.MultiheadAttention(d_model, nhead, dropout=p)", origin());
  CHECK(symbolic == json{{"type", "MultiheadAttention"}, {"embed_dim", "d_model"}, {"num_heads", "nhead"}, {"dropout", {{"$unbound", "p"}}}});
  // The docs' own example: a layer bound to a name, passed to the stack.
  json stack = parse_module_call(
      "encoder_layer = nn.TransformerEncoderLayer(d_model=512, nhead=8)\n"
      "transformer_encoder = nn.TransformerEncoder(encoder_layer, num_layers=6)",
      origin());
  CHECK(stack["type"] == "TransformerEncoder");
  CHECK(stack["encoder_layer"]["d_model"] == 512);
  CHECK(stack["num_layers"] == 6);
}

TEST_CASE("Python text that cannot be a module is refused with the place", "[python]") {
  CHECK(error_at("nn.Linear(d * 2, 4)") == "1:11: in_features is computed from d, which nothing binds");
  CHECK(error_at("nn.Linear(8 // 0, 4)") == "1:11: ZeroDivisionError: integer division or modulo by zero");
  CHECK(error_at("nn.Linear(8 / 2, 4)") == "1:13: '/' divides into a float: sizes are integers, written with '//' or int(a / b)");
  CHECK(error_at("nn.Linear(int(8 / 0), 4)") == "1:15: ZeroDivisionError: division by zero");
  CHECK(error_at("nn.Linear(int(d / 2), 4)") == "1:11: in_features is computed from d, which nothing binds");
  CHECK(error_at("nn.Linear(int(8 / 2) / 2, 4)") == "1:22: '/' divides into a float: sizes are integers, written with '//' or int(a / b)");
  CHECK(error_at("nn.Linear(9223372036854775807 + 1, 4)") == "1:11: integer out of range");
  CHECK(error_at("nn.Linear(2 ** 63, 4)") == "1:11: integer out of range");
  CHECK(error_at("config.n_embd, config.n_head = 768, 10\nassert config.n_embd % config.n_head == 0\nnn.Linear(config.n_embd, 4)") ==
        "2:1: AssertionError: the pasted assert is False: its sides are 8 and 0");
  CHECK(error_at("assert 4 != 2 + 2\nnn.Linear(8, 4)") == "1:1: AssertionError: the pasted assert is False: its sides are 4 and 4");
  CHECK(error_at("nn.Linear(7 % 0, 4)") == "1:11: ZeroDivisionError: integer division or modulo by zero");
  CHECK(error_at("nn.Linear(8, 4).frobnicate()") == "1:16: unknown method 'frobnicate' on the module");
  CHECK(error_at("torch.set_default_dtype(torch.float64)\nnn.Linear(8, 4)") == "1:1: torch.set_default_dtype() is not followed here");
  CHECK(error_at("F.scaled_dot_product_attention(q, k, v)") == "1:1: F.scaled_dot_product_attention is a function, not a module");
  CHECK(error_at("nn.Dropout(0.1)\nnn.Linear(8, 4)") == "1:1: unknown module 'nn.Dropout'");
  CHECK(error_at("nn.Linear(8, 4).to(dtype=x)") == "1:26: 'x' is not a dtype");
  CHECK(error_at("nn.Linear(2 ** -1, 4)") == "1:11: in_features is a float here (a float name, or '**' with a negative or float exponent): sizes are integers");
  CHECK(error_at("nn.Linear(d ** -1, 4)") == "1:11: in_features is a float here (a float name, or '**' with a negative or float exponent): sizes are integers");
  CHECK(error_at("p = 0.1\nnn.Linear(p * 10, 4)") == "2:11: in_features is a float here (a float name, or '**' with a negative or float exponent): sizes are integers");
  CHECK(error_at("s = 0 ** -1\nnn.Linear(8, 4)") == "1:5: ZeroDivisionError: 0.0 cannot be raised to a negative power");
  CHECK(error_at("layers[head] = nn.Linear(8, 4)") == "1:8: expected a string or an integer key");
  CHECK(error_at("layers[0] nn.Linear(8, 4)") == "1:11: expected '=', found 'nn.Linear'");
  CHECK(error_at("a = nn.Linear(8, 4)\nb = nn.LayerNorm(4)") == "2:1: the text constructs 2 modules (a, b); one is checked at a time");
  CHECK(error_at("args = 4\nnn.Linear(*args)") == "2:11: the arguments of a splat (*args) are not known here");
  CHECK(error_at("d_model = 512") == "1:1: expected a module constructor such as nn.MultiheadAttention(512, 8)");
  CHECK(error_at("x = 4\nnn.Linear(x, y=2)") == "2:14: Linear.__init__() got an unexpected keyword argument 'y'");
  // A block's own line is no annotation (except: is not the name `except` annotated).
  CHECK(error_at("except:\n    pass\nnn.Linear(8, 4)") == "1:1: unknown module 'except'");
  CHECK(error_at("except: d = 4\nnn.Linear(d, 4)") == "1:1: unknown module 'except'");
  CHECK(error_at("nn.Linear(" + std::string(200, '(') + "1" + std::string(200, ')') + ", 2)").find("nested more than 64 deep") != std::string::npos);
}

TEST_CASE("floats as Python computes them: %, int() of one out of range, NaN or infinite, a complex power", "[python]") {
  // Float % takes the divisor's sign, as Python's does; it is no floor division.
  CHECK(parse_module_call("x = 7.5\nnn.Linear(int(x % 2 * 4), int(-x % 2 * 4))", origin()) ==
        json{{"type", "Linear"}, {"in_features", 6}, {"out_features", 2}});
  CHECK(parse_module_call("x = 7.5\nnn.MultiheadAttention(8, 2, dropout=x % -2 + 1)", origin())["dropout"] == 0.5);
  CHECK(error_at("x = 7.5\nnn.Linear(int(x % 0), 4)") == "2:15: ZeroDivisionError: float modulo");
  CHECK(error_at("nn.Linear(int(10 ** 400.0), 4)") == "1:15: OverflowError: (34, 'Numerical result out of range')");
  CHECK(error_at("nn.Linear(int((-8) ** 0.5), 4)") == "1:15: a negative number to a fractional power is a complex number in Python");
  CHECK(parse_module_call("nn.Linear(int((-2) ** 2.0), 4)", origin())["in_features"] == 4);
  CHECK(error_at("x = 1e300\nnn.Linear(int(x), 4)") == "2:11: integer out of range");
  CHECK(error_at("x = 1e300\ny = x * x\nnn.Linear(int(y), 4)") == "3:11: OverflowError: cannot convert float infinity to integer");
  CHECK(error_at("x = 1e300\ny = x * x - x * x\nnn.Linear(int(y), 4)") == "3:11: ValueError: cannot convert float NaN to integer");
  // An unknown exponent is reported as the name it waits for, not as a float.
  CHECK(error_at("nn.Linear(2 ** n_layers, 4)") == "1:11: in_features is computed from n_layers, which nothing binds");
  CHECK(parse_module_call("nn.Linear(2 ** n_layers, 4)", origin(), {{"n_layers", 3}})["in_features"] == 8);
}

TEST_CASE("float literals and float arithmetic as Python's: inf past the largest double, never a stop after the literal", "[python]") {
  auto option = [](const std::string& text, const char* name) { return parse_module_call(text, origin())[name].get<double>(); };
  // A literal is an operand like any other (these stopped after the literal, or were refused).
  CHECK(option("x = 1.5e3 + 2\nnn.Linear(int(x), 4)", "in_features") == 1502);
  CHECK(option("x = 2 ** 0.5 ** 2\nnn.Linear(int(x * 10), 4)", "in_features") == 11);  // 2 ** 0.25 = 1.189...
  CHECK(option("nn.Linear(int(1e3) // 250, int(1.5e1 / 2))", "out_features") == 7);
  CHECK(option("nn.Linear(int(1_0.5), 4)", "in_features") == 10);
  // Past the largest double a literal is inf (1e400), and so is a product (1e308 * 10); below the
  // smallest, 0.0.
  CHECK(std::isinf(option("nn.MultiheadAttention(8, 2, dropout=1e400)", "dropout")));
  CHECK(std::isinf(option("x = 1e308 * 10\nnn.MultiheadAttention(8, 2, dropout=x)", "dropout")));
  CHECK(option("nn.MultiheadAttention(8, 2, dropout=-1e-400)", "dropout") == 0.0);
  CHECK(error_at("x = 1e400\nnn.Linear(int(x), 4)") == "2:11: OverflowError: cannot convert float infinity to integer");
  CHECK(error_at("nn.Linear(4, int(1e308 * 10))") == "1:14: OverflowError: cannot convert float infinity to integer");
  CHECK(error_at("x = 1e300 * 10\nnn.Linear(int(x), 4)") == "2:11: integer out of range");  // 1e301: finite, beyond int64
  // Floor division and modulo with infinities, as CPython's float_divmod: inf // 1 is nan,
  // -1 // inf is -1.0, -5 % inf is inf.
  CHECK(error_at("x = 1e400 // 1\nnn.Linear(int(x), 4)") == "2:11: ValueError: cannot convert float NaN to integer");
  CHECK(option("nn.Linear(int(-1 // 1e400) + 5, 4)", "in_features") == 4);
  CHECK(std::isinf(option("nn.MultiheadAttention(8, 2, dropout=-5 % 1e400)", "dropout")));
  CHECK(option("nn.MultiheadAttention(8, 2, dropout=5 % 1e400)", "dropout") == 5.0);
  // float(), and an infinite option written back as Python reads it again.
  json infinite = parse_module_call("nn.MultiheadAttention(8, 2, dropout=float(' -Infinity '))", origin());
  CHECK(module_call_text(infinite) == "nn.MultiheadAttention(8, 2, dropout=float('-inf'))");
  CHECK(parse_module_call(module_call_text(infinite), origin()) == infinite);
  CHECK(option("nn.MultiheadAttention(8, 2, dropout=float(1) * 0.25)", "dropout") == 0.25);
  CHECK(error_at("nn.MultiheadAttention(8, 2, dropout=float('x'))") == "1:43: ValueError: could not convert string to float: 'x'");
  // Not Python floats: refused at the literal.
  CHECK(error_at("x = 1.2.3\nnn.Linear(int(x), 4)") == "1:5: '1.2.3' is not a number");
  CHECK(error_at("x = 1__0.5\nnn.Linear(int(x), 4)") == "1:5: '1__0.5' is not a number");
  CHECK(error_at("x = 1e\nnn.Linear(int(x), 4)") == "1:5: '1e' is not a number");
}

TEST_CASE("padding= holds a mode string, so an unbound name there is refused, not read as a mode", "[python]") {
  CHECK(error_at("nn.Conv1d(c, c, k, padding=padding)") == "1:28: padding is 'padding', which nothing binds");
  CHECK(error_at("nn.Conv1d(4, 4, 3, 1, p)") == "1:23: padding is 'p', which nothing binds");
  CHECK(error_at("nn.Conv1d(4, 4, 3, padding=(p, p))") == "1:29: padding is 'p', which nothing binds");
  CHECK(error_at("nn.Conv1d(4, 4, 3, padding=p // 2)") == "1:28: padding is computed from p, which nothing binds");
  CHECK(error_at("kw = {'padding': p}\nnn.Conv1d(4, 4, 3, **kw)") ==
        "1:18: padding (from **kw) must be an integer, a list of integers or a string, but kw['padding'] is 'p', which nothing binds");
  // Bound, the name gives its value: a size, or a mode.
  CHECK(parse_module_call("nn.Conv1d(c, c, k, padding=padding)", origin(), {{"padding", 1}})["padding"] == 1);
  CHECK(parse_module_call("padding = 'same'\nnn.Conv1d(4, 4, 3, padding=padding)", origin())["padding"] == "same");
  CHECK(parse_module_call("nn.Conv1d(c, c, k, padding='valid')", origin()) ==
        json{{"type", "Conv1d"}, {"in_channels", "c"}, {"out_channels", "c"}, {"kernel_size", "k"}, {"padding", "valid"}});
}

TEST_CASE("a dict literal passed on with ** gives its entries as keyword arguments", "[python]") {
  // PyTorch's own modules (torch/nn/modules/transformer.py) build their layers this way.
  json attention = parse_module_call(
      "def __init__(self, d_model: int, nhead: int, batch_first: bool = False, device=None, dtype=None) -> None:\n"
      "    factory_kwargs = {'device': device, 'dtype': dtype}\n"
      "    self.self_attn = MultiheadAttention(d_model, nhead, batch_first=batch_first,\n"
      "                                        **factory_kwargs)",
      origin(), {{"d_model", 512}, {"nhead", 8}});
  CHECK(attention == json{{"type", "MultiheadAttention"}, {"embed_dim", 512}, {"num_heads", 8}, {"batch_first", false},
                          {"device", nullptr}, {"dtype", nullptr}});
  // Values are read when the dict is built; dtypes as torch names; a repeated key keeps the last.
  json linear = parse_module_call("n = 8\nkw = {'bias': False, 'out_features': n * 2, 'dtype': torch.float64, 'bias': True}\nn = 3\n"
                                  "nn.Linear(n, **kw)",
                                  origin());
  CHECK(linear == json{{"type", "Linear"}, {"in_features", 3}, {"out_features", 16}, {"bias", true}, {"dtype", "float64"}});
  // An unbound name stays a symbol where a bare one would: a size, a device.
  CHECK(parse_module_call("kw = {'out_features': width, 'device': device}\nnn.Linear(8, **kw)", origin()) ==
        json{{"type", "Linear"}, {"in_features", 8}, {"out_features", "width"}, {"device", {{"$unbound", "device"}}}});
}

TEST_CASE("a ** splat that cannot be read is refused with the place", "[python]") {
  CHECK(error_at("kw = {'device': device, 'dtype': dtype}\nnn.Linear(8, 4, **kw)") ==
        "1:34: dtype (from **kw) must be a dtype name such as \"float32\", but kw['dtype'] is 'dtype', which nothing binds");
  CHECK(error_at("kw = {'dtype': None}\nnn.Linear(8, 4, dtype=None, **kw)") == "2:31: Linear.__init__() got multiple values for argument 'dtype'");
  CHECK(error_at("kw = {'batch_first': True}\nnn.Linear(8, 4, **kw)") == "2:19: Linear.__init__() got an unexpected keyword argument 'batch_first'");
  CHECK(error_at("kw = {'bias': 3}\nnn.Linear(8, 4, **kw)") == "1:15: bias must be true or false, but kw['bias'] is 3");
  CHECK(error_at("kw = {bias: True}\nnn.Linear(8, 4, **kw)") == "1:7: expected a string key: only keyword dicts are passed on with **");
  CHECK(error_at("nn.Linear(8, 4, **kwargs)") == "1:17: the arguments of a ** splat are not known here");
}

TEST_CASE("a name bound to a value of the wrong kind is refused with its name and value", "[python]") {
  CHECK(error_at("hidden = 200.5\nnn.MultiheadAttention(hidden, 8)") == "2:29: embed_dim must be an integer, but 'hidden' is 200.5");
}

TEST_CASE("Python pasted with its class: def defaults, super(), tuple assignment, self attributes", "[python]") {
  // torchaudio's Conformer layer (torchaudio/models/conformer.py), trimmed to its attention.
  json conformer = parse_module_call(
      "class ConformerLayer(torch.nn.Module):\n"
      "    def __init__(\n"
      "        self,\n"
      "        input_dim: int = 144,\n"
      "        ffn_dim: int = 576,\n"
      "        num_attention_heads: int = 4,\n"
      "        dropout: float = 0.0,\n"
      "        depthwise_conv_kernel_size: Optional[int] = None,\n"
      "    ) -> None:\n"
      "        super().__init__()\n"
      "        self.self_attn = torch.nn.MultiheadAttention(input_dim, num_attention_heads, dropout=dropout)\n",
      origin());
  CHECK(conformer == json{{"type", "MultiheadAttention"}, {"embed_dim", 144}, {"num_heads", 4}, {"dropout", 0.0}});
  // --dim wins over a def default, as passing the argument would.
  CHECK(parse_module_call("def __init__(self, d_model=512, nhead=8):\n  self.attn = nn.MultiheadAttention(d_model, nhead)", origin(),
                          {{"d_model", 256}})["embed_dim"] == 256);
  // Tuple assignment evaluates every value before binding (a, b = b, a swaps).
  json swapped = parse_module_call("a, b = 512, 8\na, b = b, a\nnn.MultiheadAttention(b, a)", origin());
  CHECK(swapped["embed_dim"] == 512);
  CHECK(swapped["num_heads"] == 8);
  // self.d_model = d_model keeps the symbol; nanoGPT's config.n_embd is a name like any other.
  json aliased = parse_module_call("def __init__(self, d_model, n_heads):\n  super(Block, self).__init__()\n"
                                   "  self.d_model = d_model\n  self.attn = nn.MultiheadAttention(self.d_model, n_heads)",
                                   origin());
  CHECK(aliased["embed_dim"] == "d_model");
  CHECK(parse_module_call("nn.Linear(config.n_embd, 3 * config.n_embd)", origin(), {{"config.n_embd", 768}}) ==
        json{{"type", "Linear"}, {"in_features", 768}, {"out_features", 2304}});
  CHECK(parse_module_call("n_embd = 768\nnn.Linear(n_embd, 3 * n_embd, bias=False)", origin())["out_features"] == 2304);
  // % floors as Python's; an assert that holds, or that names leave open, lets the text through.
  CHECK(parse_module_call("nn.Linear(-7 % 3, 7 % -3 + 5)", origin()) == json{{"type", "Linear"}, {"in_features", 2}, {"out_features", 3}});
  CHECK(parse_module_call("assert config.n_embd % config.n_head == 0\nself.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)", origin(),
                          {{"config.n_embd", 768}, {"config.n_head", 12}})["out_features"] == 2304);
  CHECK(parse_module_call("assert d % h == 0, 'd must divide'\nassert isinstance(d, int)\nnn.Linear(d, 4)", origin())["in_features"] == "d");
  // Methods on the module return it: device moves change nothing, casts set its dtype (and its layers').
  CHECK(parse_module_call("self.attn = nn.MultiheadAttention(512, 8).to(torch.device('cuda', 0), non_blocking=True).eval()", origin()) ==
        json{{"type", "MultiheadAttention"}, {"embed_dim", 512}, {"num_heads", 8}});
  CHECK(parse_module_call("nn.Linear(8, 4).to(device=dev, dtype=torch.float64)", origin())["dtype"] == "float64");
  CHECK(parse_module_call("nn.Linear(8, 4, dtype=torch.float64).cuda().half()", origin())["dtype"] == "float16");
  json stack = parse_module_call("nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4), 2, norm=nn.LayerNorm(64)).to(torch.bfloat16)", origin());
  CHECK(stack["encoder_layer"]["dtype"] == "bfloat16");
  CHECK(stack["norm"]["dtype"] == "bfloat16");
  // Calls of functions whose result is dropped set values, not shapes: passed over.
  CHECK(parse_module_call("super().__init__()\n_log_api_usage_once(self)\nself.proj = nn.Linear(8, 4)\nself._reset_parameters()\n"
                          "nn.init.xavier_uniform_(self.proj.weight)",
                          origin()) == json{{"type", "Linear"}, {"in_features", 8}, {"out_features", 4}});
  // Annotated assignments bind as plain ones; an annotation alone binds nothing.
  json annotated = parse_module_call("d_model: int = 64\nn_head: int\nself.attn: Optional[nn.Module] = nn.MultiheadAttention(d_model, n_head)",
                                     origin(), {{"n_head", 4}});
  CHECK(annotated == json{{"type", "MultiheadAttention"}, {"embed_dim", 64}, {"num_heads", 4}});
}

// tests/pytorch/argument_values_cases.json ("float_options"): keyword values with constant
// arithmetic as pasted (dropout=1/10), each with the value Python computes.
TEST_CASE("a float option takes constant arithmetic with '/', as Python computes it", "[python]") {
  json document = json::parse(test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/argument_values_cases.json"));
  REQUIRE(document["float_options"].size() >= 5);
  for (const json& option : document["float_options"]) {
    std::string text = "nn.MultiheadAttention(8, 2, dropout=" + option["text"].get<std::string>() + ")";
    INFO(text);
    CHECK(parse_module_call(text, origin())["dropout"].get<double>() == option["value"].get<double>());
  }
  // A name bound to a quotient is a float too, and a size still refuses one.
  CHECK(parse_module_call("p = 1 / 10\nnn.MultiheadAttention(8, 2, dropout=p)", origin())["dropout"] == 0.1);
  CHECK(error_at("nn.MultiheadAttention(8, 2, dropout=1 / 0)") == "1:37: ZeroDivisionError: division by zero");
  CHECK(error_at("nn.Linear(8 * 2 / 2, 4)") == "1:17: '/' divides into a float: sizes are integers, written with '//' or int(a / b)");
  CHECK(parse_module_call("nn.Linear(int((8 / 2) * 3), 4)", origin())["in_features"] == 12);
}

TEST_CASE("python text: `if ...: raise` on one line is passed over, and other blocks are refused by name", "[python]") {
  // The model's own check on one line, as on two: passed over (a slice's colon is not the block's).
  CHECK(error_at("if hidden % heads != 0: raise ValueError(\"hidden must divide\")\nnn.MultiheadAttention(256, 4)") == "no error");
  CHECK(error_at("if sizes[1:] != [4]: raise RuntimeError()\nnn.Linear(8, 4)") == "no error");
  // A block whose body depends on values the reader does not have: refused where it starts.
  CHECK(error_at("if use_bias:\n    proj = nn.Linear(8, 4)\nelse:\n    proj = nn.Linear(8, 4, bias=False)") ==
        "1:1: if/else blocks are not read; paste the constructor line");
  CHECK(error_at("proj = nn.Linear(8, 4)\nelse:\n    pass") == "2:1: if/else blocks are not read; paste the constructor line");
  CHECK(error_at("for i in range(2):\n    nn.Linear(8, 4)") == "1:1: for/while blocks are not read; paste the constructor line");
  // An if whose colon is followed by something else than raise is a block like any other.
  CHECK(error_at("if x: y = 3\nnn.Linear(8, 4)") == "1:1: if/else blocks are not read; paste the constructor line");
}
