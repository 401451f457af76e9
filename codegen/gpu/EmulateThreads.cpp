//===- EmulateThreads.cpp - attn-gpu-emulate-threads ------------*- C++ -*-===//
//
// Part of the attn project.
//
// Every gpu.launch of the NVPTX pipeline, tensor-core kernels included, as a
// host function run by libattnrt's GPU emulator (attn/gpu_emulation.h): one
// fiber per thread, GPU operations as calls whose semantics the runtime
// implements from the PTX ISA manual.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUEMULATETHREADSPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

bool isShared(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref)
    return false;
  auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(memref.getMemorySpace());
  return space && space.getValue() == gpu::AddressSpace::Workgroup;
}

Type stripShared(Type type) {
  auto memref = cast<MemRefType>(type);
  return MemRefType::get(memref.getShape(), memref.getElementType(),
                         memref.getLayout());
}

/// The LLVM struct of a memref descriptor.
Type descriptorType(MLIRContext *ctx, MemRefType type) {
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  SmallVector<Type> fields{ptr, ptr, i64};
  if (type.getRank() > 0) {
    auto array = LLVM::LLVMArrayType::get(i64, type.getRank());
    fields.push_back(array);
    fields.push_back(array);
  }
  return LLVM::LLVMStructType::getLiteral(ctx, fields);
}

class Emulator {
public:
  Emulator(ModuleOp module)
      : module(module), ctx(module.getContext()),
        ptr(LLVM::LLVMPointerType::get(ctx)), i32(IntegerType::get(ctx, 32)),
        i64(IntegerType::get(ctx, 64)) {}

  LogicalResult emulate(gpu::LaunchOp launch, StringRef name);

private:
  /// A call of the runtime function `name` (declared on first use).
  ValueRange call(OpBuilder &b, Location loc, StringRef name,
                  TypeRange results, ValueRange args) {
    auto fn = module.lookupSymbol<func::FuncOp>(name);
    if (!fn) {
      OpBuilder mb = OpBuilder::atBlockBegin(module.getBody());
      fn = func::FuncOp::create(mb, loc, name,
                                mb.getFunctionType(args.getTypes(), results));
      fn.setPrivate();
    }
    return func::CallOp::create(b, loc, fn, args).getResults();
  }
  Value cI32(OpBuilder &b, Location loc, int64_t v) {
    return arith::ConstantIntOp::create(b, loc, i32, v);
  }
  Value cI64(OpBuilder &b, Location loc, int64_t v) {
    return arith::ConstantIntOp::create(b, loc, i64, v);
  }
  Value toI64(OpBuilder &b, Location loc, Value index) {
    return arith::IndexCastOp::create(b, loc, i64, index);
  }
  /// The address of memref[indices] as an !llvm.ptr.
  Value address(OpBuilder &b, Location loc, Value memref, ValueRange indices);
  /// The emulator's shared memory of this block as a memref<?xi8>.
  Value sharedBuffer(OpBuilder &b, Location loc);
  /// A buffer of `n` `type` words at the kernel's entry, and its address.
  std::pair<Value, Value> scratch(OpBuilder &b, Location loc, Type type,
                                  int64_t n);
  /// Calls attnemu_global_oob unless memref[indices] (with `vector`'s
  /// shape on the innermost dims) is in bounds.
  void checkGlobal(OpBuilder &b, Location loc, Value memref,
                   ValueRange indices, ArrayRef<int64_t> vector, bool write,
                   Value lanesOverride = Value());
  LogicalResult rewriteKernel(func::FuncOp kernel);

  ModuleOp module;
  MLIRContext *ctx;
  Type ptr, i32, i64;
  Block *kernelEntry = nullptr;
  int64_t names = 0;
};

Value Emulator::address(OpBuilder &b, Location loc, Value memref,
                        ValueRange indices) {
  auto type = cast<MemRefType>(memref.getType());
  auto md = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value linear = md.getOffset();
  for (auto [i, index] : llvm::enumerate(indices))
    linear = arith::AddIOp::create(
        b, loc, linear,
        arith::MulIOp::create(b, loc, index, md.getStrides()[i]));
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  Value offset = arith::MulIOp::create(
      b, loc, linear, arith::ConstantIndexOp::create(b, loc, bytes));
  Value addr = arith::AddIOp::create(b, loc, base, offset);
  return LLVM::IntToPtrOp::create(b, loc, ptr, toI64(b, loc, addr));
}

Value Emulator::sharedBuffer(OpBuilder &b, Location loc) {
  // In the workgroup space until rewriteKernel has recorded which accesses
  // are shared; it then strips the space from every type.
  auto type = MemRefType::get(
      {ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface(),
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
  Value base = call(b, loc, "attnemu_shared_base", {ptr}, {})[0];
  Value size = call(b, loc, "attnemu_shared_size", {i64}, {})[0];
  Value d = LLVM::PoisonOp::create(b, loc, descriptorType(ctx, type));
  d = LLVM::InsertValueOp::create(b, loc, d, base, ArrayRef<int64_t>{0});
  d = LLVM::InsertValueOp::create(b, loc, d, base, ArrayRef<int64_t>{1});
  d = LLVM::InsertValueOp::create(b, loc, d, cI64(b, loc, 0),
                                  ArrayRef<int64_t>{2});
  d = LLVM::InsertValueOp::create(b, loc, d, size, ArrayRef<int64_t>{3, 0});
  d = LLVM::InsertValueOp::create(b, loc, d, cI64(b, loc, 1),
                                  ArrayRef<int64_t>{4, 0});
  return UnrealizedConversionCastOp::create(b, loc, type, d).getResult(0);
}


std::pair<Value, Value> Emulator::scratch(OpBuilder &b, Location loc,
                                          Type type, int64_t n) {
  OpBuilder eb = OpBuilder::atBlockBegin(kernelEntry);
  Value buf =
      memref::AllocaOp::create(eb, loc, MemRefType::get({n}, type));
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(eb, loc, buf);
  Value p = LLVM::IntToPtrOp::create(eb, loc, ptr, toI64(eb, loc, base));
  return {buf, p};
}

void Emulator::checkGlobal(OpBuilder &b, Location loc, Value memref,
                           ValueRange indices, ArrayRef<int64_t> vector,
                           bool write, Value lanesOverride) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t rank = type.getRank();
  if (rank == 0)
    return;
  Value ok = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  SmallVector<Value> dims;
  for (int64_t i = 0; i < rank; ++i) {
    Value dim = memref::DimOp::create(b, loc, memref, i);
    dims.push_back(dim);
    int64_t v = i - (rank - static_cast<int64_t>(vector.size()));
    Value in;
    if (lanesOverride && i == rank - 1) {
      Value end = arith::AddIOp::create(b, loc, indices[i], lanesOverride);
      in = arith::AndIOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, end, dim),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, indices[i],
                                dim));
    } else if (v >= 0 && vector[v] > 1) {
      Value end = arith::AddIOp::create(
          b, loc, indices[i], arith::ConstantIndexOp::create(b, loc, vector[v]));
      in = arith::AndIOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, end, dim),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, indices[i],
                                dim));
    } else {
      in = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, indices[i],
                                 dim);
    }
    ok = arith::AndIOp::create(b, loc, ok, in);
  }
  // A copy of no source element (a cp.async zero fill) reads nothing.
  if (lanesOverride)
    ok = arith::OrIOp::create(
        b, loc, ok,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lanesOverride,
                              arith::ConstantIndexOp::create(b, loc, 0)));
  Value bad = arith::XOrIOp::create(
      b, loc, ok, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  auto ifBad = scf::IfOp::create(b, loc, bad, /*withElseRegion=*/false);
  OpBuilder tb = OpBuilder::atBlockBegin(ifBad.thenBlock());
  auto [buf, p] = scratch(tb, loc, i64, 2 * rank);
  for (int64_t i = 0; i < rank; ++i) {
    memref::StoreOp::create(tb, loc, toI64(tb, loc, indices[i]), buf,
                            ValueRange{arith::ConstantIndexOp::create(tb, loc, i)});
    memref::StoreOp::create(
        tb, loc, toI64(tb, loc, dims[i]), buf,
        ValueRange{arith::ConstantIndexOp::create(tb, loc, rank + i)});
  }
  int64_t lanes = 1;
  for (int64_t s : vector)
    lanes *= s;
  call(tb, loc, "attnemu_global_oob", {},
       {cI32(tb, loc, write), p, cI32(tb, loc, rank), cI64(tb, loc, lanes)});
}

LogicalResult Emulator::rewriteKernel(func::FuncOp kernel) {
  // Which accesses touch shared memory, before the types lose their space.
  DenseSet<Operation *> sharedAccess;
  kernel.walk([&](Operation *op) {
    Value m;
    if (auto load = dyn_cast<memref::LoadOp>(op))
      m = load.getMemRef();
    else if (auto store = dyn_cast<memref::StoreOp>(op))
      m = store.getMemRef();
    else if (auto load = dyn_cast<vector::LoadOp>(op))
      m = load.getBase();
    else if (auto store = dyn_cast<vector::StoreOp>(op))
      m = store.getBase();
    if (m && isShared(m.getType()))
      sharedAccess.insert(op);
  });

  // Shared memory is a host buffer of the emulator.
  SmallVector<gpu::DynamicSharedMemoryOp> dynShared;
  kernel.walk([&](gpu::DynamicSharedMemoryOp op) { dynShared.push_back(op); });
  for (gpu::DynamicSharedMemoryOp op : dynShared) {
    OpBuilder b(op);
    op.replaceAllUsesWith(sharedBuffer(b, op.getLoc()));
    op.erase();
  }
  kernel.walk([&](Operation *op) {
    for (Value r : op->getResults())
      if (isShared(r.getType()))
        r.setType(stripShared(r.getType()));
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          if (isShared(arg.getType()))
            arg.setType(stripShared(arg.getType()));
  });

  SmallVector<Operation *> ops;
  kernel.walk([&](Operation *op) { ops.push_back(op); });
  SmallVector<Operation *> dead;
  for (Operation *op : ops) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    if (isa<gpu::BarrierOp>(op)) {
      call(b, loc, "attnemu_barrier", {}, {});
      dead.push_back(op);
    } else if (auto id = dyn_cast<gpu::ThreadIdOp>(op)) {
      op->replaceAllUsesWith(ValueRange{arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          call(b, loc, "attnemu_id", {i64},
               {cI32(b, loc, static_cast<int>(id.getDimension()))})[0])});
      dead.push_back(op);
    } else if (auto id = dyn_cast<gpu::BlockIdOp>(op)) {
      op->replaceAllUsesWith(ValueRange{arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          call(b, loc, "attnemu_id", {i64},
               {cI32(b, loc, 3 + static_cast<int>(id.getDimension()))})[0])});
      dead.push_back(op);
    } else if (auto shuffle = dyn_cast<gpu::ShuffleOp>(op)) {
      Type type = shuffle.getValue().getType();
      if (!type.isF32() && !type.isInteger(32))
        return op->emitOpError("on ") << type << " cannot be emulated";
      Value v = shuffle.getValue();
      if (type.isF32())
        v = arith::BitcastOp::create(b, loc, i32, v);
      int mode = 0;
      switch (shuffle.getMode()) {
      case gpu::ShuffleMode::IDX: mode = 0; break;
      case gpu::ShuffleMode::UP: mode = 1; break;
      case gpu::ShuffleMode::DOWN: mode = 2; break;
      case gpu::ShuffleMode::XOR: mode = 3; break;
      }
      Value r = call(b, loc, "attnemu_shfl", {i64},
                     {cI32(b, loc, mode), v, shuffle.getOffset(),
                      shuffle.getWidth()})[0];
      Value x = arith::TruncIOp::create(b, loc, i32, r);
      if (type.isF32())
        x = arith::BitcastOp::create(b, loc, type, x);
      Value valid = arith::TruncIOp::create(
          b, loc, b.getI1Type(),
          arith::ShRUIOp::create(b, loc, r, cI64(b, loc, 32)));
      shuffle.getShuffleResult().replaceAllUsesWith(x);
      shuffle.getValid().replaceAllUsesWith(valid);
      dead.push_back(op);
    } else if (auto copy = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op)) {
      auto dstType = cast<MemRefType>(copy.getDst().getType());
      int64_t bytes = dstType.getElementTypeBitWidth() / 8;
      int64_t n = copy.getDstElements().getZExtValue();
      Value srcN = copy.getSrcElements()
                       ? copy.getSrcElements()
                       : Value(arith::ConstantIndexOp::create(b, loc, n));
      checkGlobal(b, loc, copy.getSrc(), copy.getSrcIndices(), {}, false,
                  srcN);
      Value dst = address(b, loc, copy.getDst(), copy.getDstIndices());
      Value src = address(b, loc, copy.getSrc(), copy.getSrcIndices());
      Value srcBytes = arith::MulIOp::create(b, loc, toI64(b, loc, srcN),
                                             cI64(b, loc, bytes));
      call(b, loc, "attnemu_cp_async", {},
           {dst, src, cI64(b, loc, n * bytes), srcBytes});
      dead.push_back(op);
    } else if (isa<nvgpu::DeviceAsyncCreateGroupOp>(op)) {
      call(b, loc, "attnemu_cp_async_commit", {}, {});
      dead.push_back(op);
    } else if (auto wait = dyn_cast<nvgpu::DeviceAsyncWaitOp>(op)) {
      int64_t pending = wait.getNumGroups() ? *wait.getNumGroups() : 0;
      call(b, loc, "attnemu_cp_async_wait", {}, {cI32(b, loc, pending)});
      dead.push_back(op);
    } else if (auto ld = dyn_cast<nvgpu::LdMatrixOp>(op)) {
      auto resultType = cast<VectorType>(ld.getRes().getType());
      int64_t num = ld.getNumTiles();
      // (ldmatrix's verifier guarantees num x (32-bit word) results.)
      Value addr = address(b, loc, ld.getSrcMemref(), ld.getIndices());
      auto [buf, p] = scratch(b, loc, i32, 4);
      call(b, loc, "attnemu_ldmatrix", {},
           {addr, cI32(b, loc, num), cI32(b, loc, ld.getTranspose()), p});
      Value words = vector::LoadOp::create(
          b, loc, VectorType::get({num}, i32), buf,
          ValueRange{arith::ConstantIndexOp::create(b, loc, 0)});
      words = vector::ShapeCastOp::create(
          b, loc, VectorType::get({num, 1}, i32), words);
      Value r = vector::BitCastOp::create(b, loc, resultType, words);
      ld.getRes().replaceAllUsesWith(r);
      dead.push_back(op);
    } else if (auto mma = dyn_cast<NVVM::MmaOp>(op)) {
      NVVM::MMAShapeAttr shape = mma.getShapeAttr();
      std::optional<NVVM::MMATypes> t = mma.getMultiplicandAPtxType();
      if (!t && isa<VectorType>(mma.getOperandA()[0].getType()) &&
          cast<VectorType>(mma.getOperandA()[0].getType())
              .getElementType()
              .isF16())
        t = NVVM::MMATypes::f16;
      bool supported =
          shape.getM() == 16 && shape.getN() == 8 && shape.getK() == 16 && t &&
          (*t == NVVM::MMATypes::f16 || *t == NVVM::MMATypes::bf16) &&
          mma.getOperandA().size() == 4 && mma.getOperandB().size() == 2 &&
          mma.getOperandC().size() == 4 &&
          mma.getOperandC()[0].getType().isF32() &&
          mma.getLayoutA() == NVVM::MMALayout::row &&
          mma.getLayoutB() == NVVM::MMALayout::col;
      if (!supported)
        return op->emitOpError("cannot be emulated (only "
                               "m16n8k16.row.col with f16/bf16 "
                               "multiplicands and f32 accumulators)");
      SmallVector<Value> args{cI32(b, loc, *t == NVVM::MMATypes::bf16)};
      auto word = [&](Value v) -> Value {
        if (v.getType() == i32)
          return v;
        Value w = vector::BitCastOp::create(b, loc, VectorType::get({1}, i32),
                                            v);
        return vector::ExtractOp::create(b, loc, w, 0);
      };
      for (Value v : mma.getOperandA())
        args.push_back(word(v));
      for (Value v : mma.getOperandB())
        args.push_back(word(v));
      for (Value v : mma.getOperandC())
        args.push_back(v);
      auto [buf, p] = scratch(b, loc, b.getF32Type(), 4);
      args.push_back(p);
      call(b, loc, "attnemu_mma_m16n8k16", {}, args);
      Value d = LLVM::PoisonOp::create(b, loc, mma.getRes().getType());
      for (int64_t i = 0; i < 4; ++i) {
        Value x = memref::LoadOp::create(
            b, loc, buf, ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
        d = LLVM::InsertValueOp::create(b, loc, d, x, ArrayRef<int64_t>{i});
      }
      mma.getRes().replaceAllUsesWith(d);
      dead.push_back(op);
    } else if (isa<memref::LoadOp, memref::StoreOp, vector::LoadOp,
                   vector::StoreOp>(op)) {
      Value m;
      ValueRange indices;
      ArrayRef<int64_t> vector;
      bool write = false;
      if (auto load = dyn_cast<memref::LoadOp>(op)) {
        m = load.getMemRef();
        indices = load.getIndices();
      } else if (auto store = dyn_cast<memref::StoreOp>(op)) {
        m = store.getMemRef();
        indices = store.getIndices();
        write = true;
      } else if (auto load = dyn_cast<vector::LoadOp>(op)) {
        m = load.getBase();
        indices = load.getIndices();
        vector = load.getVectorType().getShape();
      } else {
        auto store = cast<vector::StoreOp>(op);
        m = store.getBase();
        indices = store.getIndices();
        vector = store.getVectorType().getShape();
        write = true;
      }
      // Scratch of the kernel itself (the fiber's stack) is private.
      if (m.getDefiningOp<memref::AllocaOp>())
        continue;
      if (sharedAccess.contains(op)) {
        auto type = cast<MemRefType>(m.getType());
        int64_t lanes = 1;
        for (int64_t s : vector)
          lanes *= s;
        call(b, loc, "attnemu_shared_access", {},
             {address(b, loc, m, indices),
              cI64(b, loc, lanes * type.getElementTypeBitWidth() / 8),
              cI32(b, loc, write)});
      } else {
        checkGlobal(b, loc, m, indices, vector, write);
      }
    }
  }
  for (Operation *op : llvm::reverse(dead)) {
    op->dropAllUses();
    op->erase();
  }

  // Anything GPU-specific left has no host semantics here.
  WalkResult walk = kernel.walk([](Operation *op) {
    StringRef ns = op->getDialect() ? op->getDialect()->getNamespace() : "";
    if (ns == "gpu" || ns == "nvvm" || ns == "nvgpu") {
      op->emitOpError("cannot be emulated on the host");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

LogicalResult Emulator::emulate(gpu::LaunchOp launch, StringRef name) {
  if (!launch.getAsyncDependencies().empty() || launch.getAsyncToken())
    return launch.emitOpError("with async dependencies cannot be emulated");
  if (launch.hasClusterSize())
    return launch.emitOpError("with clusters cannot be emulated");
  if (!launch.getBody().hasOneBlock())
    return launch.emitOpError("with more than one block cannot be emulated");
  Location loc = launch.getLoc();

  // The values the body captures travel in a struct (memrefs as their
  // descriptors, indices as i64).
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(launch.getBody(), used);
  // Constants are cloned into the kernel (as gpu-kernel-outlining sinks
  // them), the rest travels.
  SmallVector<Operation *> constants;
  llvm::SetVector<Value> captured;
  for (Value v : used) {
    Operation *def = v.getDefiningOp();
    if (def && def->hasTrait<OpTrait::ConstantLike>())
      constants.push_back(def);
    else
      captured.insert(v);
  }
  SmallVector<Type> fields;
  for (Value v : captured) {
    Type t = v.getType();
    if (auto m = dyn_cast<MemRefType>(t))
      fields.push_back(descriptorType(ctx, m));
    else if (t.isIndex())
      fields.push_back(i64);
    else if (LLVM::isCompatibleType(t))
      fields.push_back(t);
    else
      return launch.emitOpError("captures a value of type ")
             << t << " that cannot be passed to an emulated kernel";
  }
  auto envType = LLVM::LLVMStructType::getLiteral(ctx, fields);

  // The kernel function.
  OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
  auto kernel = func::FuncOp::create(mb, loc, name,
                                     mb.getFunctionType({ptr}, {}));
  kernel.setPrivate();
  kernelEntry = kernel.addEntryBlock();
  OpBuilder kb = OpBuilder::atBlockBegin(kernelEntry);
  Value env = kernel.getArgument(0);
  for (auto [i, v] : llvm::enumerate(captured)) {
    Value field = LLVM::GEPOp::create(
        kb, loc, ptr, envType, env,
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    Value x = LLVM::LoadOp::create(kb, loc, fields[i], field);
    if (isa<MemRefType>(v.getType()))
      x = UnrealizedConversionCastOp::create(kb, loc, v.getType(), x)
              .getResult(0);
    else if (v.getType().isIndex())
      x = arith::IndexCastOp::create(kb, loc, v.getType(), x);
    replaceAllUsesInRegionWith(v, x, launch.getBody());
  }
  for (Operation *def : constants)
    replaceAllUsesInRegionWith(def->getResult(0), kb.clone(*def)->getResult(0),
                               launch.getBody());
  // Ids and sizes from the emulator.
  Block &body = launch.getBody().front();
  gpu::KernelDim3 dims[4] = {launch.getThreadIds(), launch.getBlockIds(),
                             launch.getBlockSize(), launch.getGridSize()};
  for (int k = 0; k < 4; ++k) {
    Value xyz[3] = {dims[k].x, dims[k].y, dims[k].z};
    for (int d = 0; d < 3; ++d) {
      if (xyz[d].use_empty())
        continue;
      Value r = call(kb, loc, "attnemu_id", {i64},
                     {cI32(kb, loc, 3 * k + d)})[0];
      xyz[d].replaceAllUsesWith(
          arith::IndexCastOp::create(kb, loc, kb.getIndexType(), r));
    }
  }
  // Static shared memory (workgroup attributions) after the dynamic part,
  // private attributions on the fiber's stack.
  Value dynBytes = launch.getDynamicSharedMemorySize();
  int64_t staticBytes = 0;
  if (!launch.getWorkgroupAttributions().empty()) {
    Value smem = sharedBuffer(kb, loc);
    // The dynamic window (rounded up to 16 bytes) comes first, the
    // attributions after it: they start staticBytes before the end.
    Value end = memref::DimOp::create(kb, loc, smem, 0);
    SmallVector<int64_t> offsets;
    for (BlockArgument arg : launch.getWorkgroupAttributions()) {
      auto type = cast<MemRefType>(arg.getType());
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return launch.emitOpError("with a dynamic or strided shared "
                                  "attribution cannot be emulated");
      offsets.push_back(staticBytes);
      staticBytes += (type.getNumElements() *
                          type.getElementTypeBitWidth() / 8 + 15) & ~15;
    }
    for (auto [arg, off] :
         llvm::zip(launch.getWorkgroupAttributions(), offsets)) {
      auto type = cast<MemRefType>(arg.getType());
      Value at = arith::AddIOp::create(
          kb, loc,
          arith::SubIOp::create(kb, loc, end,
                                arith::ConstantIndexOp::create(kb, loc,
                                                               staticBytes)),
          arith::ConstantIndexOp::create(kb, loc, off));
      Value view = memref::ViewOp::create(kb, loc, type, smem, at,
                                          ValueRange{});
      BlockArgument(arg).replaceAllUsesWith(view);
    }
  }
  for (BlockArgument arg : launch.getPrivateAttributions()) {
    auto type = cast<MemRefType>(arg.getType());
    arg.replaceAllUsesWith(memref::AllocaOp::create(
        kb, loc,
        MemRefType::get(type.getShape(), type.getElementType(),
                        type.getLayout())));
  }
  // The body moves over; gpu.terminator becomes the return.
  Operation *terminator = body.getTerminator();
  OpBuilder rb(terminator);
  func::ReturnOp::create(rb, loc);
  terminator->erase();
  kernelEntry->getOperations().splice(kernelEntry->end(),
                                      body.getOperations());
  if (failed(rewriteKernel(kernel)))
    return failure();

  // The launch: the environment on the host's stack, then the call.
  auto host = launch->getParentOfType<FunctionOpInterface>();
  OpBuilder eb = OpBuilder::atBlockBegin(&host.getFunctionBody().front());
  Value envPtr = LLVM::AllocaOp::create(eb, loc, ptr, envType,
                                        cI64(eb, loc, 1));
  OpBuilder b(launch);
  for (auto [i, v] : llvm::enumerate(captured)) {
    Value x = v;
    if (isa<MemRefType>(v.getType()))
      x = UnrealizedConversionCastOp::create(b, loc, fields[i], v)
              .getResult(0);
    else if (v.getType().isIndex())
      x = toI64(b, loc, v);
    Value field = LLVM::GEPOp::create(
        b, loc, ptr, envType, envPtr,
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    LLVM::StoreOp::create(b, loc, x, field);
  }
  std::string text = name.str();
  text.push_back('\0');
  auto strType = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8),
                                          text.size());
  std::string globalName = ("__attnemu_name_" + name).str();
  {
    OpBuilder gb = OpBuilder::atBlockBegin(module.getBody());
    LLVM::GlobalOp::create(gb, loc, strType, /*isConstant=*/true,
                           LLVM::Linkage::Internal, globalName,
                           gb.getStringAttr(text));
  }
  Value namePtr = LLVM::AddressOfOp::create(b, loc, ptr, globalName);
  Value fn = func::ConstantOp::create(b, loc, kernel.getFunctionType(),
                                      kernel.getSymName());
  Value shared = cI64(b, loc, staticBytes);
  if (dynBytes) {
    Value dyn = arith::ExtUIOp::create(b, loc, i64, dynBytes);
    if (staticBytes) // keep the attributions 16-byte aligned
      dyn = arith::AndIOp::create(
          b, loc, arith::AddIOp::create(b, loc, dyn, cI64(b, loc, 15)),
          cI64(b, loc, ~int64_t(15)));
    shared = arith::AddIOp::create(b, loc, shared, dyn);
  }
  call(b, loc, "attnemu_launch", {},
       {fn, envPtr, namePtr, toI64(b, loc, launch.getGridSizeX()),
        toI64(b, loc, launch.getGridSizeY()),
        toI64(b, loc, launch.getGridSizeZ()),
        toI64(b, loc, launch.getBlockSizeX()),
        toI64(b, loc, launch.getBlockSizeY()),
        toI64(b, loc, launch.getBlockSizeZ()), shared});
  launch.erase();
  return success();
}

struct EmulateThreads
    : attn::impl::AttnGPUEmulateThreadsPassBase<EmulateThreads> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<gpu::LaunchOp, std::string>> launches;
    for (auto fn : module.getOps<func::FuncOp>()) {
      int64_t n = 0;
      fn.walk([&](gpu::LaunchOp op) {
        launches.push_back({op, (fn.getSymName() + "_kernel" +
                                 llvm::Twine(n++))
                                    .str()});
      });
    }
    Emulator emulator(module);
    for (auto &[launch, name] : launches)
      if (failed(emulator.emulate(launch, name)))
        return signalPassFailure();
    lowerDeviceMemoryToHost(module);
  }
};

} // namespace
