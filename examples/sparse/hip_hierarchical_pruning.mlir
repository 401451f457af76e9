// Catalogue: hip_hierarchical_pruning (sparse-attention, P2).
// Lee et al., "HiP Attention: Sparse Sub-Quadratic Attention with
// Hierarchical Attention Pruning" (ICLR 2025).
//
// For every block of 64 queries, k = 4 branches start as equal ranges of
// the key blocks (32 keys each) the block can see. Each iteration splits
// every branch in two, [lo, mid) and [mid, hi) with mid = lo + ceil((hi -
// lo) / 2), scores each half by its representative key (its first token),
//   score = max_{q in the query block} q . k_rep,
// and keeps the 4 best of the 8 halves (ties: the lower half). After
// ceil(log2(ceil(key blocks / 4))) iterations every branch is one key block
// (or empty): a block-sparse selection with 4 key blocks per query block,
// O(L log L) work, then causal attention over the selected blocks plus each
// row's own block (so that no row is empty; our choice).
// The refinement is an scf.for over tensors: per level, the halves' scores
// (two linalg reductions: dot products, then the max over the block's rows),
// attn.route top(4) over the 8 halves, and the new ranges, copied into the
// loop-carried buffers. The level count is computed from the key length.
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64].
#r5 = affine_map<(b, h, n, c, r) -> (b, h, n, c, r)>
#m5 = affine_map<(b, h, n, c, r) -> (b, h, n, c)>
#d6 = affine_map<(b, h, n, c, r, d) -> (b, h, n, c, r)>
#k6 = affine_map<(b, h, n, c, r, d) -> (b, h, 0, d)>
#x4 = affine_map<(b, h, n, s) -> (b, h, n, s)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %off = arith.subi %lk, %lq : index
  %nq = arith.ceildivui %lq, %c64 : index
  %nk = arith.ceildivui %lk, %c32 : index
  // Levels: bits(ceil(nk / 4) - 1), the splits that bring a branch to one block.
  %widest = arith.ceildivui %nk, %c4 : index
  %w1 = arith.subi %widest, %c1 : index
  %w1z = arith.maxsi %w1, %c0 : index
  %w64 = arith.index_cast %w1z : index to i64
  %lz = math.ctlz %w64 : i64
  %c64i = arith.constant 64 : i64
  %lv = arith.subi %c64i, %lz : i64
  %levels = arith.index_cast %lv : i64 to index
  // The initial branches: 4 equal ranges of the m key blocks query block n
  // sees (m = 0 when its last row sees no key).
  %lo0 = tensor.empty(%b, %nq) : tensor<?x4x?x4xi32>
  %hi0 = tensor.empty(%b, %nq) : tensor<?x4x?x4xi32>
  %init:2 = linalg.generic {indexing_maps = [#x4, #x4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%lo0, %hi0 : tensor<?x4x?x4xi32>, tensor<?x4x?x4xi32>) {
  ^bb0(%u0: i32, %u1: i32):
    %n = linalg.index 2 : index
    %s = linalg.index 3 : index
    %one = arith.constant 1 : index
    %four = arith.constant 4 : index
    %zi = arith.constant 0 : index
    %bq = arith.constant 64 : index
    %bk = arith.constant 32 : index
    %end = arith.muli %n, %bq : index
    %end1 = arith.addi %end, %bq : index
    %endq = arith.minsi %end1, %lq : index
    %last = arith.subi %endq, %one : index
    %lastk = arith.addi %last, %off : index
    %seen = arith.cmpi sge, %lastk, %zi : index
    %blk = arith.divsi %lastk, %bk : index
    %blk1 = arith.addi %blk, %one : index
    %m = arith.select %seen, %blk1, %zi : index
    %s1 = arith.addi %s, %one : index
    %a = arith.muli %s, %m : index
    %lo = arith.divui %a, %four : index
    %e = arith.muli %s1, %m : index
    %hi = arith.divui %e, %four : index
    %lo32 = arith.index_cast %lo : index to i32
    %hi32 = arith.index_cast %hi : index to i32
    linalg.yield %lo32, %hi32 : i32, i32
  } -> (tensor<?x4x?x4xi32>, tensor<?x4x?x4xi32>)
  %w0 = tensor.empty(%b, %nq) : tensor<?x4x?x4xf32>
  %pick0 = tensor.empty(%b, %nq) : tensor<?x4x?x4xi32>
  %ranges:2 = scf.for %level = %c0 to %levels step %c1
      iter_args(%lo = %init#0, %hi = %init#1) -> (tensor<?x4x?x4xi32>, tensor<?x4x?x4xi32>) {
    // q_r . k_rep for the 8 halves c (branch c / 2, half c % 2) and the 64
    // rows r of query block n.
    %d0 = tensor.empty(%b, %nq) : tensor<?x4x?x8x64xf32>
    %dz = linalg.fill ins(%zero : f32) outs(%d0 : tensor<?x4x?x8x64xf32>) -> tensor<?x4x?x8x64xf32>
    // (k's row 0 only gives the loop over d its extent.)
    %dots = linalg.generic {indexing_maps = [#k6, #d6],
        iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
        ins(%k : tensor<?x4x?x64xf32>) outs(%dz : tensor<?x4x?x8x64xf32>) {
    ^bb0(%unused: f32, %acc: f32):
      %bi = linalg.index 0 : index
      %hi_ = linalg.index 1 : index
      %n = linalg.index 2 : index
      %c = linalg.index 3 : index
      %r = linalg.index 4 : index
      %d = linalg.index 5 : index
      %one = arith.constant 1 : index
      %two = arith.constant 2 : index
      %bq = arith.constant 64 : index
      %bk = arith.constant 32 : index
      %p = arith.divui %c, %two : index
      %half = arith.remui %c, %two : index
      %plo32 = tensor.extract %lo[%bi, %hi_, %n, %p] : tensor<?x4x?x4xi32>
      %phi32 = tensor.extract %hi[%bi, %hi_, %n, %p] : tensor<?x4x?x4xi32>
      %plo = arith.index_cast %plo32 : i32 to index
      %phi = arith.index_cast %phi32 : i32 to index
      %w = arith.subi %phi, %plo : index
      %w1_ = arith.addi %w, %one : index
      %hw = arith.divui %w1_, %two : index
      %mid = arith.addi %plo, %hw : index
      %second = arith.cmpi eq, %half, %one : index
      %clo = arith.select %second, %mid, %plo : index
      %rep0 = arith.muli %clo, %bk : index
      %lk1 = arith.subi %lk, %one : index
      %rep = arith.minsi %rep0, %lk1 : index
      %row0 = arith.muli %n, %bq : index
      %row1 = arith.addi %row0, %r : index
      %lq1 = arith.subi %lq, %one : index
      %row = arith.minsi %row1, %lq1 : index
      %x = tensor.extract %q[%bi, %hi_, %row, %d] : tensor<?x4x?x64xf32>
      %y = tensor.extract %k[%bi, %hi_, %rep, %d] : tensor<?x4x?x64xf32>
      %m = arith.mulf %x, %y : f32
      %sum = arith.addf %acc, %m : f32
      linalg.yield %sum : f32
    } -> tensor<?x4x?x8x64xf32>
    // A half's score: the max over the block's real rows; -inf if empty.
    %s0 = tensor.empty(%b, %nq) : tensor<?x4x?x8xf32>
    %sz = linalg.fill ins(%ninf : f32) outs(%s0 : tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
    %scores = linalg.generic {indexing_maps = [#r5, #m5],
        iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
        ins(%dots : tensor<?x4x?x8x64xf32>) outs(%sz : tensor<?x4x?x8xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %bi = linalg.index 0 : index
      %hi_ = linalg.index 1 : index
      %n = linalg.index 2 : index
      %c = linalg.index 3 : index
      %r = linalg.index 4 : index
      %one = arith.constant 1 : index
      %two = arith.constant 2 : index
      %bq = arith.constant 64 : index
      %p = arith.divui %c, %two : index
      %half = arith.remui %c, %two : index
      %plo32 = tensor.extract %lo[%bi, %hi_, %n, %p] : tensor<?x4x?x4xi32>
      %phi32 = tensor.extract %hi[%bi, %hi_, %n, %p] : tensor<?x4x?x4xi32>
      %plo = arith.index_cast %plo32 : i32 to index
      %phi = arith.index_cast %phi32 : i32 to index
      %w = arith.subi %phi, %plo : index
      %w1_ = arith.addi %w, %one : index
      %hw = arith.divui %w1_, %two : index
      %mid = arith.addi %plo, %hw : index
      %second = arith.cmpi eq, %half, %one : index
      %clo = arith.select %second, %mid, %plo : index
      %chi = arith.select %second, %phi, %mid : index
      %nonempty = arith.cmpi slt, %clo, %chi : index
      %row0 = arith.muli %n, %bq : index
      %row = arith.addi %row0, %r : index
      %real = arith.cmpi slt, %row, %lq : index
      %use = arith.andi %nonempty, %real : i1
      %mx = arith.maximumf %acc, %x : f32
      %res = arith.select %use, %mx, %acc : f32
      linalg.yield %res : f32
    } -> tensor<?x4x?x8xf32>
    %wt, %pick = attn.route top(4) scoring(none)
        ins(%scores : tensor<?x4x?x8xf32>)
        outs(%w0, %pick0 : tensor<?x4x?x4xf32>, tensor<?x4x?x4xi32>)
        -> tensor<?x4x?x4xf32>, tensor<?x4x?x4xi32>
    // The kept halves as the next ranges (an unfilled slot: empty).
    %nlo0 = tensor.empty(%b, %nq) : tensor<?x4x?x4xi32>
    %nhi0 = tensor.empty(%b, %nq) : tensor<?x4x?x4xi32>
    %next:2 = linalg.generic {indexing_maps = [#x4, #x4, #x4],
        iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        ins(%pick : tensor<?x4x?x4xi32>) outs(%nlo0, %nhi0 : tensor<?x4x?x4xi32>, tensor<?x4x?x4xi32>) {
    ^bb0(%c32_: i32, %u0: i32, %u1: i32):
      %bi = linalg.index 0 : index
      %hi_ = linalg.index 1 : index
      %n = linalg.index 2 : index
      %zi = arith.constant 0 : index
      %one = arith.constant 1 : index
      %two = arith.constant 2 : index
      %z32 = arith.constant 0 : i32
      %valid = arith.cmpi sge, %c32_, %z32 : i32
      %cc = arith.index_cast %c32_ : i32 to index
      %c = arith.maxsi %cc, %zi : index
      %p = arith.divui %c, %two : index
      %half = arith.remui %c, %two : index
      %plo32 = tensor.extract %lo[%bi, %hi_, %n, %p] : tensor<?x4x?x4xi32>
      %phi32 = tensor.extract %hi[%bi, %hi_, %n, %p] : tensor<?x4x?x4xi32>
      %plo = arith.index_cast %plo32 : i32 to index
      %phi = arith.index_cast %phi32 : i32 to index
      %w = arith.subi %phi, %plo : index
      %w1_ = arith.addi %w, %one : index
      %hw = arith.divui %w1_, %two : index
      %mid = arith.addi %plo, %hw : index
      %second = arith.cmpi eq, %half, %one : index
      %clo = arith.select %second, %mid, %plo : index
      %chi = arith.select %second, %phi, %mid : index
      %clo32 = arith.index_cast %clo : index to i32
      %chi32 = arith.index_cast %chi : index to i32
      %nlo = arith.select %valid, %clo32, %z32 : i32
      %nhi = arith.select %valid, %chi32, %z32 : i32
      linalg.yield %nlo, %nhi : i32, i32
    } -> (tensor<?x4x?x4xi32>, tensor<?x4x?x4xi32>)
    %lo2 = linalg.copy ins(%next#0 : tensor<?x4x?x4xi32>) outs(%lo : tensor<?x4x?x4xi32>) -> tensor<?x4x?x4xi32>
    %hi2 = linalg.copy ins(%next#1 : tensor<?x4x?x4xi32>) outs(%hi : tensor<?x4x?x4xi32>) -> tensor<?x4x?x4xi32>
    scf.yield %lo2, %hi2 : tensor<?x4x?x4xi32>, tensor<?x4x?x4xi32>
  }
  // Per query row: its block's 4 key blocks (-1 for an empty branch) and its
  // own block.
  %sel0 = tensor.empty(%b, %lq) : tensor<?x4x?x5xi32>
  %sel = linalg.generic {indexing_maps = [#x4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%sel0 : tensor<?x4x?x5xi32>) {
  ^bb0(%u: i32):
    %bi = linalg.index 0 : index
    %hi_ = linalg.index 1 : index
    %i = linalg.index 2 : index
    %s = linalg.index 3 : index
    %zi = arith.constant 0 : index
    %three = arith.constant 3 : index
    %four = arith.constant 4 : index
    %bq = arith.constant 64 : index
    %bk = arith.constant 32 : index
    %m1 = arith.constant -1 : i32
    %n = arith.divui %i, %bq : index
    %sc = arith.minui %s, %three : index
    %lo32 = tensor.extract %ranges#0[%bi, %hi_, %n, %sc] : tensor<?x4x?x4xi32>
    %hi32 = tensor.extract %ranges#1[%bi, %hi_, %n, %sc] : tensor<?x4x?x4xi32>
    %some = arith.cmpi slt, %lo32, %hi32 : i32
    %branch = arith.select %some, %lo32, %m1 : i32
    %pos = arith.addi %i, %off : index
    %sees = arith.cmpi sge, %pos, %zi : index
    %own = arith.divsi %pos, %bk : index
    %own32 = arith.index_cast %own : index to i32
    %ownb = arith.select %sees, %own32, %m1 : i32
    %isown = arith.cmpi eq, %s, %four : index
    %r = arith.select %isown, %ownb, %branch : i32
    linalg.yield %r : i32
  } -> tensor<?x4x?x5xi32>
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      blocks(%sel : tensor<?x4x?x5xi32>) block_size(32)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
