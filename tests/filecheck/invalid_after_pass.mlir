// RUN: opt -p quantize-fixed,fuse-affine
// Valid input and a valid fixed-point module after quantize-fixed, but fuse-affine
// folds the fixed<18> affine into the gemm as if its integers were reals and gives the
// fixed<18> gemm an f64 bias: the pass manager's verification names the pass.
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
