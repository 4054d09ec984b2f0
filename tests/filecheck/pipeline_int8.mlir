// RUN: opt -p canonicalize,fold-batchnorm,fuse-affine,quantize-int8{calibration=data/calib.npy},place-weights
// The int8 backend's pipeline on the MLP of pipeline_prbmath.mlir: the same float rewrites,
// then quantize-int8. The 16-bit logits feed both the argmax and the softmax, which is an
// output and becomes qsoftmax with its two 256-entry exp tables.
module @mlp attributes {source = "hand-written"} {
  const @one : tensor<3xf32> = [1.0, 1.0, 1.0]
  const @zero : tensor<3xf32> = [0.0, 0.0, 0.0]
  const @s : tensor<3xf32> = [2.0, 0.5, 1.0]
  const @o : tensor<3xf32> = [-1.0, 0.0, 1.0]
  const @w1 : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b1 : tensor<2xf32> = [1.0, -1.0]
  const @gamma : tensor<2xf32> = [1.0, 6.0]
  const @beta : tensor<2xf32> = [0.5, -1.0]
  const @mean : tensor<2xf32> = [1.0, 2.0]
  const @var : tensor<2xf32> = [4.0, 9.0]
  const @w2 : tensor<2x2xf32> = [1.5, -0.5, -0.75, 1.0]
  const @b2 : tensor<2xf32> = [0.5, -0.5]
  func @main(%x: tensor<3xf32>) {
    %id = affine %x, @one, @zero : tensor<3xf32>
    %z = affine %id, @s, @o : tensor<3xf32>
    %h = gemm %z, @w1, @b1 : tensor<2xf32>
    %n = batch_norm %h, @gamma, @beta, @mean, @var {epsilon = 0.0} : tensor<2xf32>
    %r = relu %n : tensor<2xf32>
    %logits = gemm %r, @w2, @b2 : tensor<2xf32>
    %p = softmax %logits : tensor<2xf32>
    %label = argmax %logits : tensor<i64>
    output "probabilities" = %p : tensor<2xf32>
    output "label" = %label : tensor<i64>
  }
}
