// Block-Attention for RAG (catalogue block_attention_rag; Sun et al.,
// "Block-Attention for Efficient RAG"): the prompt is retrieved passages
// followed by the question. Each passage's tokens attend causally within
// their passage only, so a passage's keys and values do not depend on what
// precedes it and can be cached and reused across requests; the question's
// tokens attend causally to everything. The cache holds keys before RoPE:
// the rotation is applied inside the attention at each key's position in
// this prompt (`rope`), so a passage cached at any offset is re-encoded for
// free (R(p + delta) = R(delta) R(p)).
//
//   q      [B, 8, L, 64] bf16   queries of the whole prompt
//   k, v   [B, 2, L, 64] bf16   keys (before RoPE) and values, GQA 8:2
//   block  [B, L] i32           passage index of each token, -1 for the
//                               question (the final block)
// Returns [B, 8, L, 64] bf16.
func.func @main(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>,
                %v: tensor<?x2x?x64xbf16>, %block: tensor<?x?xi32>)
    -> tensor<?x8x?x64xbf16> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xbf16>
  %init = tensor.empty(%b, %l) : tensor<?x8x?x64xbf16>
  %o = attn.attention causal rope <theta = 500000.0>
      ins(%q, %k, %v : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>)
      outs(%init : tensor<?x8x?x64xbf16>)
      mask {
      ^bb0(%bi: index, %h: index, %i: index, %j: index):
        // Same passage, or a question token (block -1) that sees all.
        %bq = tensor.extract %block[%bi, %i] : tensor<?x?xi32>
        %bk = tensor.extract %block[%bi, %j] : tensor<?x?xi32>
        %same = arith.cmpi eq, %bq, %bk : i32
        %zero = arith.constant 0 : i32
        %question = arith.cmpi slt, %bq, %zero : i32
        %r = arith.ori %same, %question : i1
        attn.yield %r : i1
      } -> tensor<?x8x?x64xbf16>
  return %o : tensor<?x8x?x64xbf16>
}
