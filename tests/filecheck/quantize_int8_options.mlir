// RUN: opt -p quantize-int8{method=percentile, percentile=90.0, lanes=1, calibration=data/calib.npy}
// Options: ranges from the 10th..90th percentile of the calibration values instead of
// min..max, one SWAR lane per word (qgemm {lanes = 1}), and the tanh becomes a
// 256-entry lookup table into qi8<1/128, 0>. The module records calibration = "percentile".
module @int8_opts {
  const @w : tensor<2x3xf32> = [0.5, -0.25, 1.0, 0.75, 0.125, -0.5]
  const @b : tensor<2xf32> = [0.125, -0.25]
  func @main(%x: tensor<3xf32>) {
    %h = gemm %x, @w, @b : tensor<2xf32>
    %t = tanh %h : tensor<2xf32>
    output "y" = %t : tensor<2xf32>
  }
}
