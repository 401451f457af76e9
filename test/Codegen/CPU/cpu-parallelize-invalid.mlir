// RUN: attn-opt %s -attn-cpu-parallelize -verify-diagnostics

func.func @shared_outputs(%n: index, %t: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{attn-cpu-parallelize expects a forall without shared outputs (run after bufferization)}}
  %r = scf.forall (%i) in (%n) shared_outs(%o = %t) -> tensor<?xf32> {
  }
  return %r : tensor<?xf32>
}
