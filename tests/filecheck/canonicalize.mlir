// RUN: opt -p canonicalize
// The identity affine goes (the gemm reads %x), clip(0, inf) becomes relu, clip(0, 6)
// stays, and the dead sigmoid and every constant nothing uses any more are dropped.
module @canon {
  const @one : tensor<3xf32> = [1.0, 1.0, 1.0]
  const @zero : tensor<3xf32> = [0.0, 0.0, 0.0]
  const @w : tensor<2x3xf32> = [1.0, 2.0, 0.0, 0.0, -1.0, 4.0]
  const @b : tensor<2xf32> = [1.0, -1.0]
  const @unused : tensor<2xf32> = [3.0, 4.0]
  func @main(%x: tensor<3xf32>) {
    %id = affine %x, @one, @zero : tensor<3xf32>
    %h = gemm %id, @w, @b : tensor<2xf32>
    %dead = sigmoid %h : tensor<2xf32>
    %r = clip %h {min = 0.0, max = inf} : tensor<2xf32>
    %r6 = clip %h {min = 0.0, max = 6.0} : tensor<2xf32>
    output "relu" = %r : tensor<2xf32>
    output "relu6" = %r6 : tensor<2xf32>
  }
}
