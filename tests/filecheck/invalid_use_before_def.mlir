// RUN: opt
// %r is used one line before its definition (SSA: definitions come first).
module @bad {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w, @b : tensor<2xf32>
    %y = sigmoid %r : tensor<2xf32>
    %r = relu %h : tensor<2xf32>
    output "y" = %y : tensor<2xf32>
  }
}
