func.func @main(%q: tensor<?xf32>) -> tensor<?xf32> {
  %x = arith.addf %q
  return %x : tensor<?xf32>
}
