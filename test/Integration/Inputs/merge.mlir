// attn.merge: @split attends over two key blocks (a causal block and a full
// one, as a ring step or split-KV decode would) and merges them; @merge
// merges given partials (rows where one or both LSEs are -inf included).
func.func @split(%q: tensor<?x4x?x16xf32>, %k1: tensor<?x2x?x16xf32>,
                 %v1: tensor<?x2x?x16xf32>, %k2: tensor<?x2x?x16xf32>,
                 %v2: tensor<?x2x?x16xf32>)
    -> (tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %oi = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %li = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %p1:2 = attn.attention
      ins(%q, %k1, %v1 : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%oi, %li : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x16xf32>, tensor<?x4x?xf32>
  %p2:2 = attn.attention causal
      ins(%q, %k2, %v2 : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%oi, %li : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x16xf32>, tensor<?x4x?xf32>
  %mo = tensor.empty(%b, %l) : tensor<?x4x?x16xbf16>
  %m:2 = attn.merge ins(%p1#0, %p2#0 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
      lse(%p1#1, %p2#1 : tensor<?x4x?xf32>, tensor<?x4x?xf32>)
      outs(%mo, %li : tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>
  return %m#0, %m#1 : tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>
}

func.func @merge(%o1: tensor<?x?x16xf32>, %o2: tensor<?x?x16xf16>,
                 %o3: tensor<?x?x16xf32>, %l1: tensor<?x?xf32>,
                 %l2: tensor<?x?xf32>, %l3: tensor<?x?xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = tensor.dim %o1, %c0 : tensor<?x?x16xf32>
  %r = tensor.dim %o1, %c1 : tensor<?x?x16xf32>
  %oi = tensor.empty(%a, %r) : tensor<?x?x16xf32>
  %li = tensor.empty(%a, %r) : tensor<?x?xf32>
  %m:2 = attn.merge ins(%o1, %o2, %o3 : tensor<?x?x16xf32>, tensor<?x?x16xf16>, tensor<?x?x16xf32>)
      lse(%l1, %l2, %l3 : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>)
      outs(%oi, %li : tensor<?x?x16xf32>, tensor<?x?xf32>)
      -> tensor<?x?x16xf32>, tensor<?x?xf32>
  return %m#0, %m#1 : tensor<?x?x16xf32>, tensor<?x?xf32>
}

// Stacked partials [S, A, R, 16] (bf16) and LSEs [S, A, R], S known at run
// time; merged into f16.
func.func @stacked(%p: tensor<?x?x?x16xbf16>, %l: tensor<?x?x?xf32>)
    -> (tensor<?x?x16xf16>, tensor<?x?xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %a = tensor.dim %p, %c1 : tensor<?x?x?x16xbf16>
  %r = tensor.dim %p, %c2 : tensor<?x?x?x16xbf16>
  %oi = tensor.empty(%a, %r) : tensor<?x?x16xf16>
  %li = tensor.empty(%a, %r) : tensor<?x?xf32>
  %m:2 = attn.merge stacked ins(%p : tensor<?x?x?x16xbf16>)
      lse(%l : tensor<?x?x?xf32>)
      outs(%oi, %li : tensor<?x?x16xf16>, tensor<?x?xf32>)
      -> tensor<?x?x16xf16>, tensor<?x?xf32>
  return %m#0, %m#1 : tensor<?x?x16xf16>, tensor<?x?xf32>
}

// FlashInfer's merge_states layout: partials [L, S, H, D] (f16), LSEs
// [L, S, H], the partials' dim in the middle; merged into f32.
func.func @stacked_mid(%p: tensor<?x?x4x16xf16>, %l: tensor<?x?x4xf32>)
    -> (tensor<?x4x16xf32>, tensor<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %p, %c0 : tensor<?x?x4x16xf16>
  %oi = tensor.empty(%n) : tensor<?x4x16xf32>
  %li = tensor.empty(%n) : tensor<?x4xf32>
  %m:2 = attn.merge stacked(1) ins(%p : tensor<?x?x4x16xf16>)
      lse(%l : tensor<?x?x4xf32>)
      outs(%oi, %li : tensor<?x4x16xf32>, tensor<?x4xf32>)
      -> tensor<?x4x16xf32>, tensor<?x4xf32>
  return %m#0, %m#1 : tensor<?x4x16xf32>, tensor<?x4xf32>
}
