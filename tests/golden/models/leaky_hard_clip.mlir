// leaky_relu, hard_sigmoid and clip after a 4-3 gemm, then a 3-2 gemm.
module @leaky_hard_clip {
  const @w1 : tensor<3x4xf32> = [0.5, -0.5, 0.25, 1.0, -1.0, 0.75, 0.5, -0.25, 0.125, 0.25, -0.625, 0.5]
  const @b1 : tensor<3xf32> = [0.0, 0.1, -0.1]
  const @w2 : tensor<2x3xf32> = [1.0, -0.5, 0.5, 0.25, 0.75, -1.0]
  const @b2 : tensor<2xf32> = [0.05, -0.05]
  func @main(%x: tensor<4xf32>) {
    %h = gemm %x, @w1, @b1 : tensor<3xf32>
    %l = leaky_relu %h {alpha = 0.1} : tensor<3xf32>
    %z = gemm %l, @w2, @b2 : tensor<2xf32>
    %s = hard_sigmoid %z {alpha = 0.2, beta = 0.5} : tensor<2xf32>
    %c = clip %s {min = 0.25, max = 0.75} : tensor<2xf32>
    output "y" = %c : tensor<2xf32>
  }
}
