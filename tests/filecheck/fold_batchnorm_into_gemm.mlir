// RUN: opt -p fold-batchnorm
// s = scale / sqrt(var + epsilon) = [1/2, 6/3] = [0.5, 2.0] (epsilon 0 keeps it exact);
// W' = s * W = [[0.5, 1, 0], [0, -2, 8]]; b' = s * (b - mean) + bias = [0.5, -7].
module @bn {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  const @gamma : tensor<2xf32> = [1.0, 6.0]
  const @beta : tensor<2xf32> = [0.5, -1.0]
  const @mean : tensor<2xf32> = [1.0, 2.0]
  const @var : tensor<2xf32> = [4.0, 9.0]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w, @b : tensor<2xf32>
    %n = batch_norm %h, @gamma, @beta, @mean, @var {epsilon = 0.0} : tensor<2xf32>
    %y = relu %n : tensor<2xf32>
    output "y" = %y : tensor<2xf32>
  }
}
