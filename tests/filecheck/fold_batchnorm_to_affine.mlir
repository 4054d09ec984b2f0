// RUN: opt -p fold-batchnorm
// %h is also an output, so the batch norm cannot go into the gemm: it becomes an
// affine with scale s = gamma / sqrt(var + 1e-5) and offset beta - mean * s (f64).
module @bn_affine {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @gamma : tensor<2xf32> = [1.0, 6.0]
  const @beta : tensor<2xf32> = [0.5, -1.0]
  const @mean : tensor<2xf32> = [1.0, 2.0]
  const @var : tensor<2xf32> = [4.0, 9.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w : tensor<2xf32>
    %n = batch_norm %h, @gamma, @beta, @mean, @var : tensor<2xf32>
    output "h" = %h : tensor<2xf32>
    output "n" = %n : tensor<2xf32>
  }
}
