// RUN: opt
// Fixed-point IR as quantize-fixed leaves it: exact f32 weights on a fixed<18> gemm,
// big-integer biases, and an i64 label table.
module @fixed attributes {number_format = "fixed<18>"} {
  const @w : tensor<2x2xf32> = [0.5, -0.25, 1.0, 2.0]
  const @b : tensor<2xfixed<18>> = [500000000000000000, -1]
  const @classes : tensor<2xi64> = [7, 9]
  func @main(%x: tensor<2xfixed<18>>) {
    %h = gemm %x, @w, @b : tensor<2xfixed<18>>
    %s = hard_sigmoid %h {alpha = 0.25, beta = 0.5} : tensor<2xfixed<18>>
    %i = argmax %s : tensor<i64>
    %label = label_map %i, @classes : tensor<i64>
    output "scores" = %s : tensor<2xfixed<18>>
    output "label" = %label : tensor<i64>
  }
}
