// RUN: opt -p fuse-activation{ops=relu+softmax}
// softmax needs the whole vector, so no backend applies it inside a gemm's per-output code.
module @fuse {
  const @w1 : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w1 : tensor<2xf32>
    %p = softmax %h : tensor<2xf32>
    output "p" = %p : tensor<2xf32>
  }
}
