// RUN: opt -p fuse-affine
// A scaler in front of a gemm: W' = W diag(s) = [[2, 1, 0], [0, -0.5, 4]],
// b' = b + W o = [1 + (-1), -1 + 4] = [0, 3].
module @scaler {
  const @s : tensor<3xf32> = [2.0, 0.5, 1.0]
  const @o : tensor<3xf32> = [-1.0, 0.0, 1.0]
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  func @main(%x: tensor<3xf32>) {
    %z = affine %x, @s, @o : tensor<3xf32>
    %h = gemm %z, @w, @b : tensor<2xf32>
    %p = softmax %h : tensor<2xf32>
    output "probabilities" = %p : tensor<2xf32>
  }
}
