"""Bugs injected into real torchvision / torchaudio models the way a user writes them (a forward
monkeypatched, a module swapped): bench/trace/inject.py's cases, each traced, checked (or run, for a
bug in the values), and required to give the right primary code, at the right Python line, with a
first fix that is the repair which, applied to the model in PyTorch, makes it run."""
import os
import sys
import unittest

from trace_support import BINARY, main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "bench", "trace"))
import inject  # noqa: E402  (bench/trace/inject.py, after the path above)

CASES = inject.cases()


class InjectTest(unittest.TestCase):
    def expect(self, name, *, code, raises, where, fix):
        """`where` is "bug" (the injected line) or "call" (the call that uses the bad tensor)."""
        row = inject.run_case(name, CASES[name], BINARY)
        self.assertEqual(row["pytorch"] is not None, raises, row["pytorch"])
        self.assertEqual(row["exit"], 1 if raises else 0)
        self.assertEqual(row["code"], code, row["message"])
        self.assertTrue(row["at_line"] if where == "bug" else row["at_call_line"],
                        f"{row['location']}, want {where}: {row['expected_location']}")
        self.assertRegex(row["first_fix"] or "", fix)
        self.assertTrue(row["fix_right"])
        if CASES[name]["fix"] is not None:
            self.assertTrue(row["fix_verified_in_pytorch"])
        return row

    def test_wav2vec2_heads_merged_without_the_transpose_back(self):
        self.expect("wav2vec2-heads-merged-without-transpose", code="MHA312", raises=False, where="bug",
                    fix=r"^move the dims first: .*\.transpose\(1, 2\)\.reshape\(B, T, 64\)")

    def test_wav2vec2_view_with_batch_and_time_swapped(self):
        self.expect("wav2vec2-view-swapped-batch", code="MHA312", raises=False, where="bug",
                    fix=r"view\(B, T, 4, 16\)")

    def test_wav2vec2_transpose_dropped_fails_at_the_scores(self):
        row = self.expect("wav2vec2-transpose-dropped", code="MHA308", raises=True, where="call",
                          fix=r"transpose\(1, 2\)")
        # the error names both operands; the fix re-makes q, whose view (through `scaling * q` on
        # the scores' line) is named as where it is made
        self.assertTrue(row["made_at_bug_line"], row["made_at"])

    def test_wav2vec2_heads_not_dividing_is_split_as_the_other_views(self):
        # k's view(B, T, 5, 12) of 64: q's and v's views split it into 4 heads of 16, so that is
        # the fix, not a guess between 4 and 8 heads
        self.expect("wav2vec2-heads-not-dividing", code="MHA302", raises=True, where="bug",
                    fix=r"^split 64 into 4 heads of 16, as the spec's other views")

    def test_vit_with_a_sequence_first_attention_swapped_in(self):
        self.expect("vit-batch-first-forgotten", code="MHA081", raises=False, where="bug",
                    fix=r"^construct with batch_first=True")

    def test_vit_cross_attention_without_kdim(self):
        self.expect("vit-cross-attention-kdim", code="MHA031", raises=True, where="bug",
                    fix=r"^construct with kdim=32, vdim=32")

    def test_vit_per_entry_mask_tiled_with_repeat(self):
        # found by check from the repeat that made the mask; located at the attention call using it ...
        row = self.expect("vit-mask-repeat", code="MHA240", raises=False, where="call",
                          fix=r"repeat_interleave\(4, dim=0\)")
        self.assertEqual(row["severity"], "warning")
        # ... and names the repeat's line as a related location: "attn_mask is made here"
        self.assertTrue(row["made_at_bug_line"], row["made_at"])

    def test_conformer_padding_mask_transposed(self):
        row = self.expect("conformer-padding-mask-transposed", code="MHA052", raises=True, where="call",
                          fix=r"transpose\(0, 1\)")
        # the mask's .T is recorded as a transpose: its line is where the mask is made
        self.assertTrue(row["made_at_bug_line"], row["made_at"])

    def test_conformer_padding_mask_inverted_is_found_by_run_at_the_attention_line(self):
        # all lengths full, so the inverted mask is all True: found in the values by `mhacheck run`
        # (the `~` is a recorded bitwise_not of file data, whose output run checks too), located at
        # the Python line of the attention call (not in the saved spec), naming the `~` line as
        # where the mask is made
        row = inject.run_case("conformer-padding-mask-inverted", CASES["conformer-padding-mask-inverted"], BINARY)
        self.assertIsNone(row["pytorch"])
        self.assertEqual((row["exit"], row["code"]), (0, "MHA116"))
        self.assertTrue(row["at_call_line"], row["location"])
        self.assertTrue(row["made_at_bug_line"], row["made_at"])

    # Cases on other models and code bases (bench/trace/README.md has them all, and the ones
    # mhacheck misses)

    def test_transformer_tutorial_with_batch_major_tokens(self):
        # nn.Transformer sequence-first fed (N, S) batches: PyTorch raises at the call
        self.expect("transformer-batch-first-forgotten", code="MHA408", raises=True, where="bug",
                    fix=r"^construct with batch_first=True")

    def test_transformer_tutorial_padding_mask_not_transposed(self):
        row = self.expect("transformer-padding-mask-not-transposed", code="MHA052", raises=True, where="call",
                          fix=r"eq\.transpose\(0, 1\)")
        self.assertTrue(row["made_at_bug_line"], row["made_at"])

    def test_maxvit_query_permute_dropped_fails_at_the_einsum(self):
        # torchvision's RelativePositionalMultiHeadAttention.forward edited: q's heads and
        # positions stay swapped; the einsum's H is 4 positions for q and 2 heads for k
        row = self.expect("maxvit-query-permute-dropped", code="MHA364", raises=True, where="call",
                          fix=r"reshape#3\.transpose\(2, 3\)")
        self.assertTrue(row["made_at_bug_line"], row["made_at"])

    def test_fairseq_heads_folded_in_the_wrong_order_is_found_at_its_view(self):
        row = inject.run_case("fairseq-view-split-order", CASES["fairseq-view-split-order"], BINARY)
        self.assertIsNone(row["pytorch"])
        self.assertEqual((row["exit"], row["code"], row["severity"]), (0, "MHA312", "warning"))
        self.assertTrue(row["at_line"], row["location"])

    def test_sdpa_with_the_head_transposes_dropped_is_found_at_the_sdpa_line(self):
        # on 1.13 through inject.py's stand-in of 2.x's F.scaled_dot_product_attention: the
        # diagnostic is at the model's line calling it, not the stand-in's
        row = inject.run_case("gpt-sdpa-transposes-dropped", CASES["gpt-sdpa-transposes-dropped"], BINARY)
        self.assertIsNone(row["pytorch"])
        self.assertEqual((row["exit"], row["code"]), (0, "MHA209"))
        self.assertTrue(row["at_call_line"], row["location"])
        self.assertTrue(inject.verify_fix(CASES["gpt-sdpa-transposes-dropped"]))

    def test_the_clean_models_check_without_an_error_or_a_warning(self):
        # the hand-written ones; the library models are checked by the sweep and their own tests
        # (and all of them by bench/trace/inject.py --clean)
        for name, (model, inputs) in inject.clean_models().items():
            if name not in ("transformer-tutorial", "gpt-sdpa", "gpt-sdpa-padding-mask", "fairseq"):
                continue
            with self.subTest(name):
                row = inject.run_clean(name, model, inputs, BINARY)
                self.assertIsNone(row["pytorch"])
                self.assertEqual(row["check"], [])

    def test_a_repair_is_verified_by_its_values_not_only_its_shapes(self):
        # the value bugs keep every shape: left unrepaired, the values tell them from the reference
        for name in ("vit-mask-repeat", "conformer-padding-mask-inverted", "vit-batch-major-into-seq-first"):
            with self.subTest(name):
                self.assertTrue(inject.verify_fix(CASES[name]))
                unrepaired = dict(CASES[name], fix=lambda model: model)
                self.assertFalse(inject.verify_fix(unrepaired))


if __name__ == "__main__":
    main()
