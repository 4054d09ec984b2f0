// A 3-2 linear classifier with an argmax and a label_map head (scikit-learn's classes_).
module @linear_labels {
  const @w : tensor<2x3xf32> = [0.5, -1.0, 0.25, -0.75, 0.5, 1.0]
  const @b : tensor<2xf32> = [0.25, -0.25]
  const @classes : tensor<2xi64> = [-7, 42]
  func @main(%x: tensor<3xf32>) {
    %logits = gemm %x, @w, @b : tensor<2xf32>
    %i = argmax %logits : tensor<i64>
    %label = label_map %i, @classes : tensor<i64>
    output "logits" = %logits : tensor<2xf32>
    output "label" = %label : tensor<i64>
  }
}
