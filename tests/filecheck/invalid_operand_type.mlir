// RUN: opt
// sigmoid needs a numeric operand; %label is an i64 class index.
module @bad {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w, @b : tensor<2xf32>
    %label = argmax %h : tensor<i64>
    %p = sigmoid %label : tensor<i64>
    output "p" = %p : tensor<i64>
  }
}
