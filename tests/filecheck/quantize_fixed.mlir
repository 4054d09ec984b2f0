// RUN: opt -p quantize-fixed
// Default options (decimals=18, exact_weights=true): every value becomes fixed<18>.
// @w1 (short binary fractions) stays an exact f32 weight. Each row of @w2 mixes 2^-64
// with 1.0 or 0.5, so its exact form needs 64-bit shifts: SD59x18 is smaller, and it
// becomes round(w * 1e18) (2^-64 rounds to 0). Biases and the affine's constants are
// always rounded (f32 0.1 is 100000001490116119). Float attributes (alpha) stay, the
// i64 label is untouched, and the module gets number_format = "fixed<18>".
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
