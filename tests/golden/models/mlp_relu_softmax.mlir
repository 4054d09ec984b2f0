// A 4-3-2 classifier: gemm, relu, gemm, softmax.
module @mlp_relu_softmax {
  const @w1 : tensor<3x4xf32> = [0.5, -0.25, 0.75, 0.125, -0.5, 1.0, 0.25, -0.375, 0.625, 0.0, -0.875, 0.5]
  const @b1 : tensor<3xf32> = [0.1, -0.2, 0.05]
  const @w2 : tensor<2x3xf32> = [1.25, -0.5, 0.75, -1.0, 0.5, 0.25]
  const @b2 : tensor<2xf32> = [0.0, 0.3]
  func @main(%x: tensor<4xf32>) {
    %h = gemm %x, @w1, @b1 : tensor<3xf32>
    %r = relu %h : tensor<3xf32>
    %logits = gemm %r, @w2, @b2 : tensor<2xf32>
    %p = softmax %logits : tensor<2xf32>
    output "probabilities" = %p : tensor<2xf32>
  }
}
