// RUN: opt -p quantize-fixed{decimals=4, exact_weights=false}
// decimals=4: values are fixed<4> and every float constant is round(v * 1e4), computed exactly.
module @qf {
  const @w1 : tensor<2x3xf32> = [0.5, -0.25, 1.0, 0.75, 0.125, -0.5]
  const @b1 : tensor<2xf32> = [0.10000000149011612, -2.0]
  const @w2 : tensor<2x2xf32> = [1.0, 5.421010862427522e-20, -5.421010862427522e-20, 0.5]
  const @b2 : tensor<2xf32> = [0.5, -0.5]
  const @s : tensor<2xf32> = [3.0, 0.25]
  const @o : tensor<2xf32> = [-1.5, 0.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w1, @b1 : tensor<2xf32>
    %a = leaky_relu %h {alpha = 0.1} : tensor<2xf32>
    %z = gemm %a, @w2, @b2 : tensor<2xf32>
    %y = affine %z, @s, @o : tensor<2xf32>
    %label = argmax %y : tensor<i64>
    output "y" = %y : tensor<2xf32>
    output "label" = %label : tensor<i64>
  }
}
