// RUN: opt -p fuse-affine
// An affine after a bias-free gemm: W' = diag(s) W = [[0.5, 1, 0], [-0.0, 3, -12]]
// (-3 * 0 is -0.0 in IEEE arithmetic), b' = s * 0 + o = [0.25, -2]. The outputs now
// return the gemm's result.
module @post {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @s : tensor<2xf32> = [0.5, -3.0]
  const @o : tensor<2xf32> = [0.25, -2.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w : tensor<2xf32>
    %y = affine %h, @s, @o : tensor<2xf32>
    %label = argmax %y : tensor<i64>
    output "y" = %y : tensor<2xf32>
    output "label" = %label : tensor<i64>
  }
}
