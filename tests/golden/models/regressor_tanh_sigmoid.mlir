// A 3-2-1 regressor: gemm, tanh, gemm, sigmoid.
module @regressor_tanh_sigmoid {
  const @w1 : tensor<2x3xf32> = [0.8, -0.6, 0.3, -0.2, 0.4, 0.9]
  const @b1 : tensor<2xf32> = [0.1, -0.1]
  const @w2 : tensor<1x2xf32> = [1.5, -0.75]
  const @b2 : tensor<1xf32> = [0.2]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w1, @b1 : tensor<2xf32>
    %t = tanh %h : tensor<2xf32>
    %z = gemm %t, @w2, @b2 : tensor<1xf32>
    %y = sigmoid %z : tensor<1xf32>
    output "y" = %y : tensor<1xf32>
  }
}
