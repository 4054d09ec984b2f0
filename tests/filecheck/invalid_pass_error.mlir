// RUN: opt -p quantize-fixed
// A pass refusing its input (an Ml2scError from the pass): batch_norm has no
// fixed-point form, so quantize-fixed asks for fold-batchnorm first.
module @bn {
  const @gamma : tensor<3xf32> = [1.0, 6.0, 1.0]
  const @beta : tensor<3xf32> = [0.5, -1.0, 0.0]
  const @mean : tensor<3xf32> = [1.0, 2.0, 0.0]
  const @var : tensor<3xf32> = [4.0, 9.0, 1.0]
  func @main(%x: tensor<3xf32>) {
    %n = batch_norm %x, @gamma, @beta, @mean, @var : tensor<3xf32>
    output "n" = %n : tensor<3xf32>
  }
}
