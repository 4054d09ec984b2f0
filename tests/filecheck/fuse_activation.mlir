// RUN: opt -p fuse-activation{ops=relu+tanh}
// %h1 -> relu: the gemm's only user, so the gemm takes the relu's result %r and the tag
// {fuse = "relu"}. %h2 -> tanh: %h2 is also an output, so nothing is fused. The sigmoid
// is not in ops. The relu on the input reads no gemm.
module @fuse {
  const @w1 : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b1 : tensor<2xf32> = [1.0, -1.0]
  const @w2 : tensor<2x2xf32> = [1.5, -0.5, -0.75, 1.0]
  func @main(%x: tensor<3xf32>) {
    %x0 = relu %x : tensor<3xf32>
    %h1 = gemm %x0, @w1, @b1 : tensor<2xf32>
    %r = relu %h1 : tensor<2xf32>
    %h2 = gemm %r, @w2 : tensor<2xf32>
    %t = tanh %h2 : tensor<2xf32>
    %s = sigmoid %t : tensor<2xf32>
    output "y" = %s : tensor<2xf32>
    output "logits" = %h2 : tensor<2xf32>
  }
}
