//===- Passes.td - attn target-independent passes ----------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_PASSES_TD
#define ATTN_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnExpandSideOutputsPass
    : Pass<"attn-expand-side-outputs", "func::FuncOp"> {
  let summary = "Compute attn.attention's column_scores with a second, "
                "swapped attention";
  let description = [{
    Rewrites an `attn.attention ... column_scores` on tensors into:

    1. the same attention with a log-sum-exp output (added when the op has
       none);
    2. a swapped attention whose rows are the keys `[B, Hkv, Lk, D]` and
       whose keys are the queries of the KV head's group stacked
       `[B, Hkv, G Lq, D]`, with values of ones: its score region is the
       original score region at the transposed indices minus the row's LSE
       (plus `(Lq - 1 - i) log(alpha)` with `score_decay(alpha)`), its mask
       the transposed mask and causal predicate. Its own LSE is then
       `log(sum_i w_i p[i, j])`;
    3. `exp` of that LSE (times `|v_j|_1` with `value_norm`) into the
       scores output.

    Both attentions are ordinary `attn.attention` ops: they are tiled,
    vectorized and masked (tile skipping included: the swapped causal mask
    `j <= i + (Lk - Lq)` is linear) by the same code as every other
    attention. The probabilities are never stored; the second pass costs
    one more `Q K^T` over the visible pairs.

    For `row_entropy`: a second, unswapped attention over the same queries,
    keys, mask and block selection with values of ones and logits
    `s' = s - LSE + log(max(LSE - s, 0))` (`-inf` where `s` is `-inf`), so
    that `sum_j exp(s'_j) = sum_j p_j (-log p_j)`: the entropy is `exp` of
    its LSE, plus `p_sink (LSE - sink)` with a sink region. A row with no
    visible key gets 0.

    With `fuse-column-scores` (the CPU pipeline), `column_scores` stays on
    the attention when its query length is not the static 1 of a decode
    step: `attn-tile-attention` then sums the probabilities inside the
    attention's own tiled loop from logits it keeps per query tile (no
    second `Q K^T`).

    With `fuse-row-entropy` (the CPU pipeline), `row_entropy` of a softmax
    over one map without block selection stays on the attention too:
    `attn.tile_attend ... entropy(%u)` keeps per row the running sum of
    weights times logits relative to the running maximum and
    `attn.tile_finalize` writes `ln 2 (log2 l - u / l)` (one FMA per logit,
    no second pass).

    Either fused form applies to query lengths other than the static 1 of
    a decode step, which is expanded as above (the decode step's attention
    takes the split-KV form, the swapped pass runs over the keys in
    parallel). A dynamic query length is dispatched at run time:
    `scf.if (Lq == 1)` {expanded on one-row casts} else {fused}
    (`attn.dispatch = "expand_side_outputs_if_one_query_row"`).

    Runs first in every pipeline.
  }];
  let options = [
    Option<"fuseColumnScores", "fuse-column-scores", "bool", "false",
           "Leave column_scores to attn-tile-attention's fused form (CPU)">,
    Option<"fuseRowEntropy", "fuse-row-entropy", "bool", "false",
           "Leave row_entropy to attn-tile-attention's fused form (CPU)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnFuseElementwisePass : Pass<"attn-fuse-elementwise", "func::FuncOp"> {
  let summary = "Fold elementwise producers and consumers into attn.attention";
  let description = [{
    Folds elementwise work around an `attn.attention` into the op:
    * a multiplication (or division) of the query by a scalar constant,
      written as `arith.mulf`/`arith.divf` on tensors or as an elementwise
      `linalg.generic`, becomes part of the `scale` attribute;
    * a single-use elementwise consumer of the attention output (a cast such
      as `arith.truncf`, any `arith`/`math` elementwise op on tensors, or an
      elementwise `linalg.generic` with identity maps) becomes the
      `epilogue` region; other operands of the consumer are read inside the
      epilogue with `tensor.extract` at the element's coordinates;
    * every `attn.gate` on tensors is first rewritten into its elementwise
      `linalg.generic` (`x * act(g)`, `g` through a projected map), so a gate
      on an attention output becomes part of its epilogue (gated attention)
      and any other gate is an ordinary loop nest.

    ```mlir
    %qs = arith.mulf %q, %half : tensor<2x4x8x64xf32>
    %o = attn.attention ins(%qs, %k, %v : ...) outs(%init : ...) -> tensor<2x4x8x64xf32>
    %g = arith.truncf %o : tensor<2x4x8x64xf32> to tensor<2x4x8x64xbf16>
    // becomes
    %g = attn.attention scale(6.250000e-02) ins(%q, %k, %v : ...)
             outs(%init2 : tensor<2x4x8x64xbf16>) epilogue {...}
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnExportFunctionsPass : Pass<"attn-export-functions", "ModuleOp"> {
  let summary = "Give public functions the attn C ABI: destination outputs and a shape signature";
  let description = [{
    Prepares every public function for the C ABI of `attn-compile`:
    * each tensor result gets a caller-allocated destination argument
      (`bufferization.writable`), and the op that produces the result writes
      into it (its `tensor.empty` init is replaced, or the value is copied
      with `bufferization.materialize_in_destination`); after
      one-shot-bufferize and `drop-equivalent-buffer-results` the function
      returns nothing and writes into the caller's buffers;
    * the function gets an `attn.abi` string attribute: for every argument its
      direction, element type and dims, where static dims are numbers and
      dynamic dims are symbols `?N`; equal symbols denote dims that the
      program's ops require to be equal (batch of q, k, v and o; key length
      of k and v; ...). The runtime checks every DLTensor against it;
    * the function becomes private: its public interface is the C entry
      point emitted later by the backend.

    ```mlir
    func.func @main(%q: tensor<?x8x?x64xf32>, ...) -> tensor<?x8x?x64xf32>
    // becomes
    func.func private @main(%q: tensor<?x8x?x64xf32>, ..., %out0: tensor<?x8x?x64xf32>
                    {bufferization.writable = true}) -> tensor<?x8x?x64xf32>
        attributes {attn.abi = "in:f32:?0,8,?1,64;...;out:f32:?0,8,?1,64"}
    ```
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def AttnTileAttentionPass : Pass<"attn-tile-attention", "func::FuncOp"> {
  let summary = "Tile attn.attention into the FlashAttention-2 online-softmax form";
  let description = [{
    Rewrites every memref `attn.attention` into a parallel `scf.forall` over
    (batch, query head, query tile) whose body initializes the online-softmax
    state, walks the key/value tiles with `attn.tile_attend` and writes the
    output tile with `attn.tile_finalize`.

    Each (query tile, key tile) pair is classified as *empty* (skipped),
    *full* (`attn.tile_attend` without a mask region: no mask evaluation) or
    *partial* (with the mask region). The classification is derived at
    compile time from the causal flag and from the mask region: comparisons
    of expressions linear in the query and key indices (`j <= i + c`,
    `i - j < w`, combined with `arith.andi`/`arith.ori`) are bounded over the
    tile's corners; anything else is conservatively partial. The result is a
    few integer operations per tile at run time.

    From the same comparisons the pass derives the keys a query tile can see
    as at most two intervals (`j <= i + c` bounds j above, `i < j + w`
    below, `andi` intersects, `ori` unites); the key loop visits only their
    tiles, each interval from its first key, the two ordered and made
    disjoint at run time. When a row sees a fixed number W of keys (a
    window; sinks plus a window), the query and key tiles shrink to the
    largest power of two <= W/2 (at least 32): fewer hidden pairs per tile.
    A fused `column_scores` and a block selection keep the aligned loop over
    every key tile.

    Decode (a static query length of 1, regions that read neither the query
    head nor the row, no sink) takes the flash-decoding form instead: the G
    query heads of each KV head are packed as the rows of one query tile,
    the keys are split into chunks of `decode-split-keys` (rounded to
    `kv-tile`) run in parallel, each writing a normalized partial output and
    its LSE into a scratch buffer `[splits, B, Hq, 1, Dv]`, and an
    `attn.merge stacked` merges them by log-sum-exp (lowered by
    `attn-decompose-merge`, run again after this pass); an epilogue then
    runs over the merged rows.

    A block selection (`blocks`, MoBA) counts, per query tile, the rows that
    chose each key block in a stack row; key tiles (sized to divide the
    block) no row chose are skipped, tiles every row chose run without a
    mask if the positions allow, the others test each row's list in the
    mask. Selections differ from row to row, so such ops use query tiles of
    `block-q-tile` rows: fewer rows, fewer blocks in their union.

    A partially visible tile of more than `strip-rows` rows goes in row
    strips of `strip-rows` rows (a multiple of the vector width): each strip
    attends, with the mask, only to the keys between the first and the last
    of the tile's keys that some of its rows can see, found by classifying
    single keys against the strip's rows (the ranges of loaded values, such
    as document ids, computed once per strip). A causal diagonal tile's
    first strip stops at its own diagonal, a strip inside one document starts
    at the document's first key. Not with a fused `column_scores` or a block
    selection.

    The tile sizes are options; `q-tile` and `block-q-tile` must be
    multiples of the target's vector width. They are recorded on the
    generated loop as `attn.tile_sizes`.
  }];
  let options = [
    Option<"qTile", "q-tile", "int64_t", "64", "Query rows per tile">,
    Option<"blockQTile", "block-q-tile", "int64_t", "0",
           "Query rows per tile with a block selection (0: q-tile)">,
    Option<"kvTile", "kv-tile", "int64_t", "64", "Keys per tile">,
    Option<"decodeSplitKeys", "decode-split-keys", "int64_t", "512",
           "Keys per split of the split-KV decode form (0: off)">,
    Option<"stripRows", "strip-rows", "int64_t", "32",
           "Rows per strip of a partially visible tile (0: whole tiles)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerScanPass : Pass<"attn-lower-scan", "func::FuncOp"> {
  let summary = "Lower memref attn.scan to its chunkwise or recurrent form";
  let description = [{
    Rewrites each `attn.scan` on memrefs into a parallel `scf.forall` over
    (batch, head) that keeps the state `S [Dk, Dv]` (and the normalizer
    `z [Dk]`) in f32 scratch. Head dims must be static. A `reverse` scan is
    the forward recurrence over the rows in reverse: both forms below read
    and write row `L - 1 - t` of the queries, keys, values, channel decays
    and output at step `t` (chunks, sub-blocks and state unchanged).

    **Chunkwise form** (`chunk-size` > 0, the default 32; prefill): the
    sequence is walked in chunks of `C` steps. Inside a chunk the
    recurrence is unrolled into masked matmuls on f32 scratch holding
    `phi(q)`, `phi(k)` (also transposed), `v` and `G`, the cumulative log
    decay from the chunk start:

    ```
    A[t,s] = sum_i phi(q_t)_i phi(k_s)_i exp(G_t,i - G_s,i)   (s <= t)
    o_t    = (phi(q_t) * exp(G_t)) S + sum_s A[t,s] v_s
    S      = exp(G_last) * S + sum_s (phi(k_s) * exp(G_last - G_s))^T v_s
    ```

    Every exponent is <= 0 for log decays <= 0, so nothing overflows however
    long the sequence. For `decay(channel)`, `A` is built per sub-block of
    16 rows (FLA's secondary chunking): keys before the sub-block go through
    one matmul with the reference point at the sub-block's first row, keys
    inside it take the exponent per element. For `decay(head)`,
    `G_t = (t + 1) log(lambda)` and `A` is `phi(Q) phi(K)^T` scaled by
    `lambda^(t - s)`. The matmuls keep up to 4 output rows of vectors (a row
    of `C` keys or `Dv` channels) in registers and broadcast the other
    operand; the feature-map region is vectorized over a row of channels.
    `normalize` divides by the same sums with `v = 1`.

    For `decay(channel)` a run-time check first looks at the chunk's total
    log decay: when every channel stays within e^-40..e^40 (GLA-like gates
    always do), one reference point at the chunk start suffices,
    `A = (phi(Q) e^G)(phi(K) e^-G)^T`, one matmul with no factor outside
    that range.

    **Recurrent form** (`chunk-size=0`, and always for one static step, i.e.
    decode, for operands whose rows are not contiguous, and for feature maps
    with ops that have no vector form): per step
    `S = D_t S + phi(k_t)^T v_t`, then `o_t = phi(q_t) S`, on scalars. The
    GPU SIMT path uses it (one thread per (batch, head), no chunk scratch).

    The final state is copied out when it is an output.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t",
           /*default=*/"::mlir::attn::kDefaultScanChunk",
           "Steps per chunk: 0 for the recurrent form, at most 16, or a "
           "multiple of 16 (the decay(channel) sub-block)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnGenerateBackwardPass
    : Pass<"attn-generate-backward", "mlir::ModuleOp"> {
  let summary = "Derive the training forward and the backward of each public "
                "function";
  let description = [{
    For each public function `@f(x_1, ..., x_n) -> (y_1, ..., y_m)` adds

    * `@f_train(x...) -> (y..., saved...)`: `@f` with a log-sum-exp output on
      every `attn.attention` that lacks one, returning after its results
      what the backward needs: each attention's output and log-sum-exp, in
      program order (never the probabilities);
    * `@f_backward(x..., saved..., dy...) -> (dx...)`: one gradient per
      floating-point `x_i`, in order (f32 for f32 inputs, the input's type
      otherwise), given one gradient per result `y_j`.

    `@f_backward` recomputes the cheap ops of `@f` from its inputs, takes
    each attention's output and log-sum-exp from `saved`, then walks the ops
    in reverse: every op states its adjoint through `AdjointOpInterface`
    (`attn.attention` becomes an `attn.attention_backward` whose
    `score_grad` region is the score region differentiated symbolically,
    one arith/math op at a time), and the gradients of a value used twice
    are summed. Integer, index and boolean values (masks, comparisons,
    positions) are constants. An op whose gradient cannot be formed is an
    error at its location.

    ```mlir
    func.func @main(%q: tensor<?x4x?x64xf32>, ...) -> tensor<?x4x?x64xf32>
    // gets
    func.func @main_train(%q, %k, %v) -> (tensor<?x4x?x64xf32>,
        tensor<?x4x?x64xf32>, tensor<?x4x?xf32>)
    func.func @main_backward(%q, %k, %v, %o, %lse, %do) -> (tensor<?x4x?x64xf32>,
        tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
    ```

    With `combined=true`, also `@f_grad(x..., dy...) -> (dx...)`: the
    training forward followed by the backward in one function, the saved
    state passed straight through (what `attn-run --grad` runs, and a single
    entry point for tests and runners).
  }];
  let options = [
    Option<"combined", "combined", "bool", /*default=*/"false",
           "Also emit @f_grad(x..., dy...) -> (dx...): @f_train then "
           "@f_backward in one function">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnLowerAttentionBackwardPass
    : Pass<"attn-lower-attention-backward", "func::FuncOp"> {
  let summary = "Lower memref attn.attention_backward to deterministic loops";
  let description = [{
    Loop nests over the buffers of an `attn.attention_backward`, none with
    atomics, so two runs give bit-identical gradients:

    1. per (batch, query head) row: `D = sum_d dO O - dLSE` into an f32
       `[B, H, Lq]` buffer (with `tiled`, one chain of FMAs in order of d:
       the rounding of a lane of the dP product, so `dP - D` is exactly 0
       where `V_j = O_i`);
    2. with `tiled` (the CPU pipeline's form): one nest in parallel over
       (batch, KV head), each iteration owning dK, dV of its KV head and dQ
       of its group's heads. Per tile of 48 keys (K^T, V^T, K packed once
       into f32 stack tiles), per head of the group and per 48-row query
       tile that can see one of its keys (causal bounds; tiles the mask
       hides entirely, as MaskClassifier proves, skipped at run time):
       `S = Q K^T` and `dP = dO V^T` by register-blocked tile products,
       `P` and `scale dR` elementwise on vectors of keys (score, mask and
       score_grad regions vectorized; invisible pairs and rows whose LSE is
       `-inf` are 0), then `dV += P^T dO`, `dK += dR^T Q` (f32 tile
       accumulators) and `dQ += dR K`. A static query length of 1
       (decode) packs the group's heads as the rows of one query tile, as
       the forward's split-KV form does (each row's regions see its own
       head; a mask that reads the head is then evaluated per pair, not
       classified per tile);
       without `tiled` (the pair form, which maps onto GPU threads): in
       parallel over (batch, KV head), for each key `j`, every query row of
       the group that sees it, in order, recomputes `P` from the saved LSE
       and adds `P dO` to `dV[j]` and `scale dR Q` to `dK[j]`; then in
       parallel over (batch, query head), for each query row `i`, the keys
       it sees, in order, add `scale dR K[j]` to `dQ[i]`;
    3. with capture gradients: every visible pair (and each row's sink)
       once more, through `score_grad` / `sink_grad` with their
       `attn.grad_accumulate` ops turned into load/add/store, in parallel
       over batch and head only where every accumulation is indexed by them
       (each element then has one owner), in order otherwise.

    Visibility is the forward's (mask region, causal); a row whose LSE is
    `-inf` sees nothing.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", "16",
           "f32 lanes of the target's vectors (16: AVX-512, 8: AVX2)">,
    Option<"tiled", "tiled", "bool", "false",
           "2. and 3. as one tiled nest of register-blocked tile products "
           "(the CPU pipeline's form; the pair form maps onto GPU threads)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerAppendKVPass : Pass<"attn-lower-append-kv", "func::FuncOp"> {
  let summary = "Lower attn.append_kv on buffers to a parallel scatter";
  let description = [{
    Each `attn.append_kv` on memrefs becomes an `scf.forall` over (token,
    KV head): a token whose slot is non-negative copies its key and value
    rows, converted to the pools' element type, into row `slot % page_size`
    of page `slot / page_size` of each pool; a negative slot writes
    nothing. The CPU backend runs the loop on its thread pool, the SIMT
    path as a kernel. (The runtime has checked every slot against the
    pool's rows before the call.)

    ```mlir
    attn.append_kv ins(%k, %v : memref<?x2x64xf16>, memref<?x2x64xf16>)
        slots(%s : memref<?xi32>)
        outs(%kp, %vp : memref<?x16x2x64xf16>, memref<?x16x2x64xf16>)
    // becomes
    scf.forall (%t, %g) in (%tokens, 2) {
      %slot = memref.load %s[%t] : memref<?xi32>
      scf.if %slot >= 0 {
        // kp[slot / 16, slot % 16, g, :] = k[t, g, :], same for v
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnMaterializeRopePass
    : Pass<"attn-materialize-rope", "func::FuncOp"> {
  let summary = "Make rotary embeddings explicit and lower attn.rope";
  let description = [{
    `attn.attention ... rope <...>` rotates the queries and keys at their
    logical positions inside the kernel. This pass rewrites it into two
    `attn.rope` ops feeding an attention without `rope`:

    * the queries at positions `i + len_b - Lq` (`len_b` the request's
      `kv_lens` entry, else the key length: the causal alignment);
    * the keys at their index `j`; a paged pool is gathered through its
      table first (as `attn-materialize-pages` does), since a pool row has
      a position only through the request reading it. The attention then
      keeps its `kv_lens` on dense keys.

    Every `attn.rope` (these and the user's) then becomes a
    `linalg.generic`: per element, the angle `positions[b, i] * f[d]` in
    f64 (compile-time frequency table), reduced by whole turns (to within 3 pi), then the f32
    `cos`/`sin` and `y = x[d] cos + x[partner(d)] sin` (the partner read
    with `tensor.extract`; a signed frequency table folds the pair's sign).

    With `keep-fused` (the CPU pipeline) the attentions that
    `attn-tile-attention` rotates itself stay as they are: it rotates each
    query tile once and each key tile as it reads it, stepping cos and sin
    from key to key by angle addition, so that a cache of keys before RoPE
    is read once, paged or not.

    `skip-paged` leaves paged attentions alone: the pipelines run the pass
    first with it (before side outputs are expanded, so that their second
    passes see rotated operands), then again after
    `attn-export-functions` has recorded the page table's checks.

    ```mlir
    %o = attn.attention causal rope <theta = 500000.0> ins(%q, %k, %v : ...) ...
    // becomes
    %qr = attn.rope <theta = 5.000000e+05> ins(%q : ...) positions(%qpos : tensor<?x?xi64>) ...
    %kr = attn.rope <theta = 5.000000e+05> ins(%k : ...) positions(%kpos : tensor<?x?xi64>) ...
    %o = attn.attention causal ins(%qr, %kr, %v : ...) ...
    ```
  }];
  let options = [
    Option<"skipPaged", "skip-paged", "bool", /*default=*/"false",
           "Leave attentions over paged pools (materialized later)">,
    Option<"keepFused", "keep-fused", "bool", /*default=*/"false",
           "Leave the attentions whose query and key tiles "
           "attn-tile-attention rotates (the CPU pipeline)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnMaterializeKVQuantPass
    : Pass<"attn-materialize-kv-quant", "func::FuncOp"> {
  let summary = "Dequantize 8-bit key/value caches into tensors for the "
                "backends that do not read them fused";
  let description = [{
    `attn.attention ... key_scale(%ks) value_scale(%vs)` reads 8-bit caches
    (i8, f8E4M3FN, f8E5M2; dense or paged). This pass replaces each
    quantized operand by a `linalg.generic` that computes
    `scale[group] * decode(code)` in the query's element type (fp8 codes
    are decoded with integer shifts into an f32 and a power-of-two
    multiply, so no backend needs an fp8 instruction; the scale is read
    with `tensor.extract` at the element's group index) and drops the
    scales. The CPU pipeline runs it with `keep-fused`, which leaves the
    ops whose tiles `attn-tile-attention` dequantizes as it stages them.
    Runs after `attn-export-functions` (which records that each scale's
    dims match its cache's).

    ```mlir
    %o = attn.attention ins(%q, %k8, %v8 : tensor<?x8x1x64xf16>,
            tensor<?x2x?x64xi8>, tensor<?x2x?x64xi8>)
        key_scale(%ks : tensor<?x2x?x1xf32>) value_scale(%vs : tensor<?x2x?x1xf32>)
        outs(%init : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
    // becomes
    %k = linalg.generic ins(%k8 : tensor<?x2x?x64xi8>) outs(%e : tensor<?x2x?x64xf16>) {
      ... tensor.extract %ks[%b, %g, %j, %c0] ... arith.sitofp ... arith.mulf ...
    }
    %o = attn.attention ins(%q, %k, %v : ...) outs(%init : ...) -> ...
    ```
  }];
  let options = [
    Option<"keepFused", "keep-fused", "bool", /*default=*/"false",
           "Leave the ops whose tiles attn-tile-attention dequantizes (CPU)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnLowerQuantizeKVPass
    : Pass<"attn-lower-quantize-kv", "func::FuncOp"> {
  let summary = "Lower attn.quantize_kv to linalg.generics";
  let description = [{
    Each `attn.quantize_kv` becomes, when it computes its scales, a
    reduction `linalg.generic` over `[scale dims (parallel), block dims
    (reduction)]` of `max |x|` (the input read with `tensor.extract` at
    `scale index * block + offset`; an unread `tensor.empty` of the block's
    shape gives the reduction's extents) and a generic that divides by the
    largest code and rounds to the scale's type; then an elementwise
    generic of the codes, `encode(x / s)` with round-to-nearest-even and
    saturation done in integer and f32 arithmetic. Runs after
    `attn-export-functions`.

    ```mlir
    %q, %s = attn.quantize_kv ins(%x : tensor<?x8x128xf32>)
        outs(%qi, %si : tensor<?x8x128xi8>, tensor<?x8x1xf32>) -> ...
    // becomes
    %amax = linalg.generic {iterator_types = ["parallel", "parallel", "parallel",
        "reduction", "reduction", "reduction"]} ins(%blockShape : tensor<1x1x128xf32>) ...
    %s = linalg.generic ins(%amax) outs(%si) { arith.divf ... }
    %q = linalg.generic ins(%x) outs(%qi) { ... tensor.extract %s[...] ... }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnMaterializePagesPass
    : Pass<"attn-materialize-pages", "func::FuncOp"> {
  let summary = "Rewrite per-request key lengths and paged caches into a "
                "dense attention with a mask";
  let description = [{
    The portable form of `attn.attention ... kv_lens(...)` and
    `pages(...)` on tensors, for the backends whose tilers read dense
    operands only:

    * a paged pool is gathered into a dense `[batch, kv heads,
      max_pages * page_size, D]` tensor by a `linalg.generic` that reads
      row `j % page_size` of page `table[b, j / page_size]` (page 0 past the
      request's length, so that table entries the request does not use are
      never followed);
    * the per-request length and the causal flag become mask terms, `j <
      lens[b]` and `j <= i + lens[b] - Lq` (the bottom-right alignment of
      each request), and-ed with the op's own mask region.

    The gather costs one copy of every cache row per call: the CPU pipeline
    runs the pass with `keep-fused`, which leaves the ops that
    `attn-tile-attention` reads through the page table in place.

    ```mlir
    %o = attn.attention causal ins(%q, %kp, %vp : tensor<?x8x?x64xf16>,
            tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
        kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
        outs(%init : tensor<?x8x?x64xf16>) -> tensor<?x8x?x64xf16>
    // becomes
    %k = linalg.generic ... outs(%e : tensor<?x2x?x64xf16>) {
      ... tensor.extract %table[%b, %n] ... tensor.extract %kp[%page, %r, %g, %d]
    }
    %o = attn.attention ins(%q, %k, %v : ...) outs(%init : ...) mask {
      ... j < lens[b] && j <= i + lens[b] - Lq ...
    }
    ```
  }];
  let options = [
    Option<"keepFused", "keep-fused", "bool", /*default=*/"false",
           "Leave the ops that attn-tile-attention tiles through the page "
           "table (CPU) in place">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnDecomposeMergePass : Pass<"attn-decompose-merge", "func::FuncOp"> {
  let summary = "Rewrite attn.merge into linalg.generics or parallel loops";
  let description = [{
    Each `attn.merge` on tensors becomes one elementwise `linalg.generic`
    for the merged output and, when the op has an LSE output, one for the
    LSE. Both read every partial's LSE at the row (a projected map) and
    compute, in f32, `m = max_s LSE_s` (0 where every partial is `-inf`),
    `w_s = exp(LSE_s - m)`, `den = sum_s w_s`:

    ```
    O   = den > 0 ? sum_s w_s O_s / den : 0
    LSE = den > 0 ? m + log(den) : -inf
    ```

    so a row no partial saw merges to `O = 0`, `LSE = -inf` without NaN.
    Every backend (CPU, NVPTX, Halide) compiles the generics like any other
    elementwise stage (`attn-fuse-elementwise` may fold them further).

    A `stacked` merge (a run-time number of partials along the operands'
    leading dim) becomes reductions over that dim: the row maximum, the
    weights' sum and the weighted sum of the partials (f32), then the
    elementwise quotient and LSE. Its adjoint treats the maximum as the
    constant it is (the result does not depend on it).

    A merge on buffers — the split-KV decode's, emitted by
    `attn-tile-attention` — becomes an `scf.forall` over the output rows:
    per row the maximum LSE, the weights (one `exp` per partial, kept in a
    stack buffer) and their sum, then one weighted sum per column. The CPU
    backend runs the forall on its thread pool, the SIMT path as a kernel.

    ```mlir
    %o = attn.merge ins(%o1, %o2 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
        lse(%l1, %l2 : tensor<?x4x?xf32>, tensor<?x4x?xf32>)
        outs(%init : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
    // becomes
    %o = linalg.generic {indexing_maps = [id, id, drop_last, drop_last, id], ...}
        ins(%o1, %o2, %l1, %l2 : ...) outs(%init : ...) { ... }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnLowerCumsumPass : Pass<"attn-lower-cumsum", "func::FuncOp"> {
  let summary = "Lower memref attn.cumsum to loops";
  let description = [{
    Rewrites each `attn.cumsum` on memrefs into a loop nest over the other
    dims with the scanned dim innermost, carrying an f32 running sum:

    ```mlir
    attn.cumsum dim(1) ins(%x : memref<?x?xf32>) outs(%y : memref<?x?xf32>)
    // becomes
    scf.for %b = %c0 to %nb step %c1 {
      %s = scf.for %t = %c0 to %nt step %c1 iter_args(%acc = %zero) -> (f32) {
        %v = memref.load %x[%b, %t] : memref<?x?xf32>
        %n = arith.addf %acc, %v : f32
        memref.store %n, %y[%b, %t] : memref<?x?xf32>
        scf.yield %n : f32
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnLowerRoutePass : Pass<"attn-lower-route", "func::FuncOp"> {
  let summary = "Lower memref attn.route to a loop over token rows";
  let description = [{
    Each row's logits (computed from `x` and `W`, 8 vectors of experts
    accumulating in registers, if the op takes them), probabilities and
    selection keys live in three `[E]` stack rows; the top-k is k argmax
    sweeps with a strict `>`, 16 experts per vector (ties to the lower
    expert, `-inf` never chosen); group-limited routing ranks the groups by a
    pairwise count. Weights and indices are kept in
    registers across the k slots, then skipped, capacity-checked and stored.

    Without capacity or load statistics rows are independent: the loop is
    an `scf.forall` over chunks of 32 rows, each with its own stack rows. With them the rows run in token order, the
    counters in the `counts` output (or a stack row).

    ```mlir
    attn.route top(2) ins(%l : memref<?x8xf32>) outs(%w, %i : memref<?x2xf32>, memref<?x2xi32>)
    // becomes
    scf.forall (%c) in (%chunks) {
      %z = memref.alloca() : memref<8xf32>   // and probabilities, keys
      scf.for %r = %first to %last step %c1 {
        ...   // softmax into %p; two argmax sweeps over the keys
        memref.store %w0, %w[%r, %c0] : memref<?x2xf32>
        memref.store %i0, %i[%r, %c0] : memref<?x2xi32>
        ...
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerExpertsPass : Pass<"attn-lower-experts", "func::FuncOp"> {
  let summary = "Lower memref attn.experts to grouped matmuls over routed pairs";
  let description = [{
    Sorts the valid (token, slot) pairs by expert with a counting sort
    (slots whose index is outside `[0, E)` are never ordered, so dropped and
    skipped pairs cost nothing), then runs an `scf.forall` over work items
    of up to 64 pairs of one expert: the item gathers its token rows, computes
    `H = act(X W1[e]) * (X W3[e])` in 32-column panels with 4 rows x 2 x 2
    vector accumulators, then `w * (H W2[e])` with 8 rows x 2 accumulators
    into a per-pair buffer, and a second `scf.forall` adds each token's pairs.
    Model and hidden dims must be multiples of 32.

    ```mlir
    attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : ...) outs(%y : memref<?x256xf32>)
    // becomes: counting sort; scf.forall over items { gather; two panel
    // matmul loops of vector.fma }; scf.forall over tokens { sum of pairs }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerPoolPass : Pass<"attn-lower-pool", "func::FuncOp"> {
  let summary = "Lower memref attn.pool to loops";
  let description = [{
    An `scf.forall` over the leading dims and the blocks; per channel one
    loop over the block's rows carries max, min and sum, and the requested
    kinds are stored side by side (`mean` divides by the block's own length,
    so a short last block is exact).

    ```mlir
    attn.pool block(64) kinds(["mean"]) ins(%k : memref<?x4x?x64xf32>) outs(%o : memref<?x4x?x64xf32>)
    // becomes
    scf.forall (%b, %h, %n) in (%B, 4, %blocks) {
      scf.for %d = %c0 to %c64 step %c1 {
        %s:3 = scf.for %r = %first to %last step %c1 iter_args(...) -> (f32, f32, f32) { ... }
        %mean = arith.divf %s#2, %count : f32
        memref.store %mean, %o[%b, %h, %n, %d] : memref<?x4x?x64xf32>
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnLowerEvictPass : Pass<"attn-lower-evict", "func::FuncOp"> {
  let summary = "Lower memref attn.evict to a radix select and a gather";
  let description = [{
    An `scf.forall` over the leading dims (one iteration per KV head and
    batch). Each score is mapped to a 32-bit integer whose unsigned order
    is the preference order (sign-magnitude flip of the IEEE bits, all bits
    inverted for `lowest`, NaN to 0). `key_norm` ranks `sum_d k[j, d]^2`,
    computed once per middle position (16- or 8-wide vectors when the key
    dim allows) into a heap buffer shaped like a scores operand, which the
    passes below then read as the scores.
    Among the middle positions (after the sinks, before the recent window)
    a radix select finds the budget-th best image in four passes of an
    8-bit histogram (`memref<256xi32>` on the stack), restricted each time
    to the candidates sharing the digits found so far; it also yields how
    many positions equal to that threshold are kept, so ties go to the lower
    positions without sorting. One ordered pass then keeps every sink,
    recent position, image above the threshold and the first tied ones,
    storing the position and copying its key and value rows; the remaining
    slots get index -1 and zero rows. O(S) per slice, no sort.

    ```mlir
    attn.evict budget(64) sink(4) recent(32) scores(%s : memref<?x4x?xf32>)
        ins(%k, %v : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
        outs(%i, %k1, %v1 : memref<?x4x100xi32>, memref<?x4x100x64xf32>, memref<?x4x100x64xf32>)
    // becomes
    scf.forall (%b, %h) in (%B, 4) {
      %t:2 = scf.if %over_budget -> (i32, i32) {   // threshold, ties to keep
        scf.for %pass = %c0 to %c4 step %c1 iter_args(...) { histogram; scan }
      } else { ... }
      %n:2 = scf.for %j = %c0 to %S step %c1 iter_args(%slot = %c0, %ties = %c0_i32) { ... }
      scf.for %slot = %n#0 to %c100 step %c1 { pad }
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerCopiesPass : Pass<"attn-lower-copies", "func::FuncOp"> {
  let summary = "Turn memref.copy into linalg.copy";
  let description = [{
    Bufferization writes `tensor.insert_slice` (a concatenation, a padded
    copy) as `memref.copy` between strided views, whose LLVM lowering calls
    `memrefCopy` from MLIR's runner utilities, a library compiled kernels
    must not depend on. As `linalg.copy` the copy is lowered to loops inside
    the kernel by `convert-linalg-to-loops`.

    ```mlir
    memref.copy %a, %b : memref<?x64xf32> to memref<?x64xf32, strided<[576, 1]>>
    // becomes
    linalg.copy ins(%a : memref<?x64xf32>) outs(%b : memref<?x64xf32, strided<[576, 1]>>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // ATTN_PASSES_PASSES_TD
