// RUN: opt -p quantize-int8{calibration=data/calib.npy},place-weights{layout=dense}
// The dense layout keeps one byte a weight in data contracts, so weights = "data" too.
module @int8 {
  const @w1 : tensor<3x3xf32> = [0.5, -0.25, 1.0, 0.75, 0.125, -0.5, -1.0, 0.25, 0.375]
  const @b1 : tensor<3xf32> = [0.125, -0.25, 0.0]
  const @w2 : tensor<2x3xf32> = [1.5, -0.5, 0.25, -0.75, 1.0, 0.5]
  const @b2 : tensor<2xf32> = [0.5, -0.5]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w1, @b1 : tensor<3xf32>
    %r = relu %h : tensor<3xf32>
    %logits = gemm %r, @w2, @b2 : tensor<2xf32>
    %label = argmax %logits : tensor<i64>
    output "logits" = %logits : tensor<2xf32>
    output "label" = %label : tensor<i64>
  }
}
