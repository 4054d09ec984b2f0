// RUN: opt -p quantize-fixed,fuse-affine
// fuse-affine folds with real arithmetic, so on fixed<18> IR (after quantize-fixed) it
// leaves the affine alone. (It used to fold the integers as if they were reals and give
// the fixed<18> gemm an f64 bias, which only the verifier after the pass caught.)
module @after {
  const @s : tensor<3xf32> = [2.0, 0.5, 1.0]
  const @o : tensor<3xf32> = [-1.0, 0.0, 1.0]
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  func @main(%x: tensor<3xf32>) {
    %z = affine %x, @s, @o : tensor<3xf32>
    %h = gemm %z, @w, @b : tensor<2xf32>
    output "h" = %h : tensor<2xf32>
  }
}
