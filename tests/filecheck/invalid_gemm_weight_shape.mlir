// RUN: opt
// @w is 2x3, so the gemm needs a 3-vector; %h has 2 elements.
module @bad {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w, @b : tensor<2xf32>
    %y = gemm %h, @w : tensor<2xf32>
    output "y" = %y : tensor<2xf32>
  }
}
