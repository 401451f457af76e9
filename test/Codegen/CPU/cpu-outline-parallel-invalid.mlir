// RUN: attn-opt %s -attn-cpu-outline-parallel -verify-diagnostics

func.func @not_llvm(%n: i64) {
  // expected-error @+1 {{expected to be inside an llvm.func; run the conversion to the LLVM dialect first}}
  attn.parallel_for (%n) {
  ^bb0(%t: i64):
    attn.yield
  }
  return
}
