// Catalogue: sepllm_separator_mask (sparse-attention, P2).
// SepLLM, Chen et al., "SepLLM: Accelerate Large Language Models by
// Compressing One Segment into One Separator" (ICML 2025).
//
// Each query keeps only the initial tokens (j < 4), the separator tokens
// (punctuation and line breaks, recognised from the token ids) and its
// neighbouring window of 64 tokens, causally:
//   visible(i, j) = j <= i and (j < 4 or is_sep(ids[b, j]) or i - 64 < j).
// The separator vocabulary is static: here the ids 0 (".") , 1 (",") and
// 2 ("\n") of a toy vocabulary. The mask is a region over the token ids, so
// the window's and the initial tokens' tiles are classified from the linear
// comparisons and the separators are evaluated per key in the other tiles.
// q, k, v [B, 4, L, 64], ids [B, L] -> o [B, 4, L, 64].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %ids: tensor<?x?xi32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %n_init = arith.constant 4 : index
        %n_nb = arith.constant 64 : index
        %sep_max = arith.constant 2 : i32
        %initial = arith.cmpi slt, %j, %n_init : index
        %jw = arith.addi %j, %n_nb : index
        %near = arith.cmpi slt, %i, %jw : index
        %id = tensor.extract %ids[%bb, %j] : tensor<?x?xi32>
        // ids 0, 1 and 2 are the separators.
        %sep = arith.cmpi ule, %id, %sep_max : i32
        %a = arith.ori %initial, %near : i1
        %r = arith.ori %a, %sep : i1
        attn.yield %r : i1
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
