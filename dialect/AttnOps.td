//===- AttnOps.td - attn operations ------------------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNOPS_TD
#define ATTN_DIALECT_ATTNOPS_TD

include "dialect/AttnBase.td"
include "dialect/AttnAttrs.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// attn.attention
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Scaled dot-product attention with score, mask and epilogue regions";
  let description = [{
    Computes, for every batch `b`, query head `h`, query row `i` and value
    channel `d`:

    ```
    s[j]   = score(scale * dot(Q[b,h,i,:], K[b,h/G,j,:]), b, h, i, j)
    vis[j] = mask(b, h, i, j) && (!causal || j <= i + (Lk - Lq))
    p[j]   = exp(s[j]) / sum_{vis} exp(s[j'])     for visible j, else 0
    O[b,h,i,d] = epilogue(sum_j p[j] * V[b,h/G,j,d], b, h, i, d)
    LSE[b,h,i] = log(sum_{vis} exp(s[j]))          (optional second output)
    ```

    With a `sink` region, its value `sink(b, h, i)` is one more logit in the
    softmax denominator with a zero value vector (a learned attention sink):
    `p[j] = exp(s[j]) / (exp(sink) + sum_{vis} exp(s[j']))`, and the LSE
    includes it. With `normalizer(sigmoid)` the weights are
    `p[j] = sigmoid(s[j])` for visible keys with no normalization (sigmoid
    attention); there is then no LSE and no sink.

    A `second(%q2, %k2)` pair adds a second attention map over the same values
    (same scale, regions and mask): `O2 = softmax(score(q2.k2)) V`, and the
    `combine(%o1, %o2, %b, %h, %i, %d)` region yields the combined element
    (Differential Transformer: `o1 - lambda_h * o2`). `rms_norm(eps)` then
    divides each output row by `sqrt(mean_d(x^2) + eps)` before the epilogue.
    Both maps are computed in the same tiled loop, which reads each value
    tile once.

    Operands are laid out `[batch, heads, seq, head_dim]` (PyTorch SDPA).
    Batch and sequence lengths may be dynamic; head counts and head dims are
    static. `G = Hq / Hkv` query heads share one key/value head (GQA/MQA).
    Query and key lengths may differ (cross-attention, decode); the causal
    mask is aligned to the bottom-right corner so that a single query row
    sees the whole cache. A row with no visible key produces 0 (and an LSE of
    -inf), never NaN.

    The op is destination-passing: `outs` holds the output (and optionally a
    `[batch, heads, seq]` f32 LSE buffer). On tensors it returns one result
    per output; on memrefs it writes them and returns nothing.

    Regions (all optional; a missing region is the identity / always-visible):
    * `score(%s: f32, %b: index, %h: index, %i: index, %j: index)` yields the
      modified f32 logit (FlexAttention's `score_mod`);
    * `mask(%b: index, %h: index, %i: index, %j: index)` yields `i1`, true
      where key `j` is visible to query `i` (FlexAttention's `mask_mod`);
    * `epilogue(%o: f32, %b: index, %h: index, %i: index, %d: index)` yields
      the output element (of the output element type);
    * `sink(%b: index, %h: index, %i: index)` yields an f32 logit that enters
      only the softmax denominator.
    Regions may read tensors defined above them with `tensor.extract`
    (after bufferization: `memref.load`), e.g. a bias or document ids.

    Example (causal GQA with a soft cap):

    ```mlir
    %o = attn.attention causal
        ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
        outs(%init : tensor<?x8x?x64xf32>)
        score {
        ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
          %c = arith.constant 30.0 : f32
          %x = arith.divf %s, %c : f32
          %t = math.tanh %x : f32
          %r = arith.mulf %t, %c : f32
          attn.yield %r : f32
        } -> tensor<?x8x?x64xf32>
    ```
  }];

  let arguments = (ins AnyShaped:$query, AnyShaped:$key, AnyShaped:$value,
                       Optional<AnyShaped>:$query2, Optional<AnyShaped>:$key2,
                       Variadic<AnyShaped>:$outputs,
                       UnitAttr:$causal,
                       OptionalAttr<F32Attr>:$scale,
                       DefaultValuedAttr<Attn_Normalizer,
                                         "::mlir::attn::Normalizer::softmax">:$normalizer,
                       OptionalAttr<F32Attr>:$rms_norm_eps);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region AnyRegion:$score, AnyRegion:$mask,
                        AnyRegion:$epilogue, AnyRegion:$sink,
                        AnyRegion:$combine);

  let assemblyFormat = [{
    (`causal` $causal^)? (`scale` `(` $scale^ `)`)?
    (`normalizer` `(` $normalizer^ `)`)?
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    (`second` `(` $query2^ `,` $key2 `:` type($query2) `,` type($key2) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    (`score` $score^)?
    (`mask` $mask^)?
    (`sink` $sink^)?
    (`combine` $combine^)?
    (`rms_norm` `(` $rms_norm_eps^ `)`)?
    (`epilogue` $epilogue^)?
    attr-dict (`->` type($results)^)?
  }];

  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let hasCanonicalizer = 1;

  let extraClassDeclaration = [{
    /// DestinationStyleOpInterface.
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }

    ::mlir::ShapedType getQueryType() { return ::llvm::cast<::mlir::ShapedType>(getQuery().getType()); }
    ::mlir::ShapedType getKeyType() { return ::llvm::cast<::mlir::ShapedType>(getKey().getType()); }
    ::mlir::ShapedType getValueType() { return ::llvm::cast<::mlir::ShapedType>(getValue().getType()); }
    ::mlir::Value getOutput() { return getOutputs()[0]; }
    ::mlir::ShapedType getOutputType() { return ::llvm::cast<::mlir::ShapedType>(getOutput().getType()); }
    /// The optional log-sum-exp output buffer, or null.
    ::mlir::Value getLse() { return getOutputs().size() > 1 ? getOutputs()[1] : ::mlir::Value(); }

    int64_t getNumQueryHeads() { return getQueryType().getDimSize(1); }
    int64_t getNumKvHeads() { return getKeyType().getDimSize(1); }
    int64_t getHeadDim() { return getQueryType().getDimSize(3); }
    int64_t getValueHeadDim() { return getValueType().getDimSize(3); }

    /// The softmax scale: the `scale` attribute or 1/sqrt(head_dim).
    float getScaleValue();

    /// The yielded value of a region's terminator (null if the region is empty).
    static ::mlir::Value getYieldedValue(::mlir::Region &region);

    /// Clones a (non-empty) region's body as scalar code at `b`'s insertion
    /// point with `args` for its block arguments; returns the yielded value.
    static ::mlir::Value inlineScalarRegion(::mlir::OpBuilder &b,
                                            ::mlir::Region &region,
                                            ::mlir::ValueRange args);

    /// A copy of this op with new operands (in this op's operand order) and
    /// result types, taking over this op's regions (left empty).
    AttentionOp cloneWithOperands(::mlir::RewriterBase &rewriter,
                                  ::mlir::ValueRange operands,
                                  ::mlir::TypeRange resultTypes);
  }];
}

//===----------------------------------------------------------------------===//
// attn.cumsum
//===----------------------------------------------------------------------===//

def Attn_CumsumOp : Attn_Op<"cumsum", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Inclusive prefix sum along one dimension";
  let description = [{
    `output[..., t, ...] = sum_{t' <= t} input[..., t', ...]` along `dim`,
    accumulated in f32. The scan that some variants need before attention
    (the Forgetting Transformer's cumulative log forget gates); elementwise
    work before it is an ordinary `linalg.generic`. Destination-passing, on
    tensors or memrefs, like `attn.attention`; `attn-lower-cumsum` turns the
    memref form into loops.

    ```mlir
    %c = attn.cumsum dim(2) ins(%x : tensor<?x4x?xf32>) outs(%init : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$output, I64Attr:$dim);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    `dim` `(` $dim `)` `ins` `(` $input `:` type($input) `)`
    `outs` `(` $output `:` type($output) `)` attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
  }];
}

//===----------------------------------------------------------------------===//
// Tile-level ops (produced by attn-tile-attention)
//===----------------------------------------------------------------------===//

def Attn_TileAttendOp : Attn_Op<"tile_attend"> {
  let summary = "One online-softmax step of a query tile over one key/value tile";
  let description = [{
    The FlashAttention-2 inner step. `query` is a `[nq, D]` tile, `key` a
    `[nk, D]` tile and `value` a `[nk, Dv]` tile (views into the operands);
    `maxes` (`[TQ]`), `sums` (`[TQ]`) and `acc` (`[TQ, Dv]`) hold the running
    row maximum, the running sum of exponentials and the unnormalized output
    accumulator of the query tile. Maxima are kept in base-2 units
    (`log2(e) * logit`) so that backends can use `exp2`.

    The logits are `scale * q.k`, passed through the `score` region, and, if
    the `mask` region is present, set to -inf where it yields false. The tile
    pass emits the mask region only for partially visible tiles: full tiles
    carry no mask at all. `batch`, `head`, `q_offset` and `k_offset` give the
    global coordinates of the tile's first element for the regions. With
    `normalizer(sigmoid)` the step adds `sigmoid(logit) * v` to `acc` and
    leaves `maxes` alone.

    ```mlir
    attn.tile_attend ins(%qt, %kt, %vt : memref<?x64xf32, strided<[64, 1], offset: ?>>, ...)
        state(%m, %l, %acc : memref<64xf32>, memref<64xf32>, memref<64x64xf32>)
        at [%b, %h, %q0, %k0] scale(1.250000e-01)
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "query tile", [MemRead]>:$query,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "key tile", [MemRead]>:$key,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "value tile", [MemRead]>:$value,
    Arg<MemRefRankOf<[F32], [1]>, "running maxima", [MemRead, MemWrite]>:$maxes,
    Arg<MemRefRankOf<[F32], [1]>, "running sums", [MemRead, MemWrite]>:$sums,
    Arg<MemRefRankOf<[F32], [2]>, "accumulator", [MemRead, MemWrite]>:$acc,
    Index:$batch, Index:$head, Index:$q_offset, Index:$k_offset,
    F32Attr:$scale,
    DefaultValuedAttr<Attn_Normalizer, "::mlir::attn::Normalizer::softmax">:$normalizer);
  let regions = (region AnyRegion:$score, AnyRegion:$mask);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    `state` `(` $maxes `,` $sums `,` $acc `:` type($maxes) `,` type($sums) `,` type($acc) `)`
    `at` `[` $batch `,` $head `,` $q_offset `,` $k_offset `]`
    `scale` `(` $scale `)`
    (`normalizer` `(` $normalizer^ `)`)?
    (`score` $score^)?
    (`mask` $mask^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_TileFinalizeOp : Attn_Op<"tile_finalize"> {
  let summary = "Normalizes a query tile's accumulator and writes the output tile";
  let description = [{
    Writes `output[i, d] = epilogue(acc[i, d] / sums[i], b, h, q_offset + i, d)`
    for the `nq` rows of the `[nq, Dv]` output view (0 where `sums[i]` is 0,
    i.e. the row saw no visible key) and, if present, the row log-sum-exp
    `lse[i] = ln(2) * (maxes[i] + log2(sums[i]))` (-inf for empty rows).
    A `sink(b, h, i)` region adds `exp(sink)` to the denominator (and to the
    LSE). With `normalizer(sigmoid)` the accumulator is written as is.

    ```mlir
    attn.tile_finalize state(%m, %l, %acc : memref<64xf32>, memref<64xf32>, memref<64x64xf32>)
        outs(%ot : memref<?x64xf32, strided<[64, 1], offset: ?>>) at [%b, %h, %q0]
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32], [1]>, "running maxima", [MemRead]>:$maxes,
    Arg<MemRefRankOf<[F32], [1]>, "running sums", [MemRead]>:$sums,
    Arg<MemRefRankOf<[F32], [2]>, "accumulator", [MemRead]>:$acc,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "output tile", [MemWrite]>:$output,
    Arg<Optional<MemRefRankOf<[F32], [1]>>, "log-sum-exp tile", [MemWrite]>:$lse,
    Index:$batch, Index:$head, Index:$q_offset,
    DefaultValuedAttr<Attn_Normalizer, "::mlir::attn::Normalizer::softmax">:$normalizer);
  let regions = (region AnyRegion:$epilogue, AnyRegion:$sink);
  let assemblyFormat = [{
    `state` `(` $maxes `,` $sums `,` $acc `:` type($maxes) `,` type($sums) `,` type($acc) `)`
    `outs` `(` $output (`,` $lse^)? `:` type($output) (`,` type($lse)^)? `)`
    `at` `[` $batch `,` $head `,` $q_offset `]`
    (`normalizer` `(` $normalizer^ `)`)?
    (`sink` $sink^)?
    (`epilogue` $epilogue^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

//===----------------------------------------------------------------------===//
// attn.parallel_for
//===----------------------------------------------------------------------===//

def Attn_ParallelForOp : Attn_Op<"parallel_for", [RecursiveMemoryEffects]> {
  let summary = "Independent iterations run on libattnrt's thread pool";
  let description = [{
    Runs the body once for every index in `[0, count)`, in any order and
    concurrently. The body has one `i64` block argument (the iteration index)
    and may contain any number of blocks (it survives the conversion to the
    LLVM dialect); it ends with `attn.yield`. `attn-cpu-outline-parallel`
    outlines it into a function called by `attnrt_parallel_for`.

    ```mlir
    attn.parallel_for (%n) {
    ^bb0(%t: i64):
      ...
      attn.yield
    }
    ```
  }];
  let arguments = (ins I64:$count);
  let regions = (region AnyRegion:$body);
  let assemblyFormat = "`(` $count `)` $body attr-dict";
  let hasRegionVerifier = 1;
}

//===----------------------------------------------------------------------===//
// attn.yield
//===----------------------------------------------------------------------===//

def Attn_YieldOp : Attn_Op<"yield", [Pure, ReturnLike, Terminator,
    ParentOneOf<["AttentionOp", "TileAttendOp", "TileFinalizeOp", "ParallelForOp"]>]> {
  let summary = "Yields the value of an attn region";
  let description = [{
    Terminates the regions of `attn` ops: yields the modified score, the mask
    bit, the output element, or nothing (parallel body).
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // ATTN_DIALECT_ATTNOPS_TD
