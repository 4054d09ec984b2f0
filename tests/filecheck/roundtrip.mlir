// RUN: opt
// The canonical form: defaulted attributes are written out (leaky_relu's alpha),
// ints become floats where the attribute is a float (max = 6), names that are not
// plain identifiers stay quoted, and comments like these disappear.
module @roundtrip attributes {producer = "hand", "weird key" = "a \"quoted\" value"} {
  const @w : tensor<2x3xf32> = [0.5, -0.25, 1.0, 0.1, 2.0, -1.5]
  const @b : tensor<2xf32> = [0.0, -0.5]   // trailing comment
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w, @b : tensor<2xf32>
    %"onnx::Relu_1" = leaky_relu %h : tensor<2xf32>
    %c = clip %"onnx::Relu_1" {min = -inf, max = 6} : tensor<2xf32>
    %p = softmax %c : tensor<2xf32>
    %label = argmax %c : tensor<i64>
    output "probabilities" = %p : tensor<2xf32>
    output "label" = %label : tensor<i64>
  }
}
