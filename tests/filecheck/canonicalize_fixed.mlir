// RUN: opt -p canonicalize
// On fixed<18> values one is 10^18: the affine with scale 1e18 and offset 0 is the identity
// and goes; the one with raw scale 1 multiplies by 1e-18 and stays.
module @fixed {
  const @one : tensor<2xfixed<18>> = [1000000000000000000, 1000000000000000000]
  const @tiny : tensor<2xfixed<18>> = [1, 1]
  const @zero : tensor<2xfixed<18>> = [0, 0]
  func @main(%x: tensor<2xfixed<18>>) {
    %a = affine %x, @one, @zero : tensor<2xfixed<18>>
    %b = affine %a, @tiny, @zero : tensor<2xfixed<18>>
    output "y" = %b : tensor<2xfixed<18>>
  }
}
