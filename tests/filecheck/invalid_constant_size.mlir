// RUN: opt
// A 2x3 constant with five values: the verifier's error is placed at the constant.
module @bad {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w : tensor<2xf32>
    output "h" = %h : tensor<2xf32>
  }
}
