"""Measurement and checking around the compiler: the float oracle (``onnx_float64``,
``validate``), the gas estimator (``estimate``) and the benchmark (``bench``,
``ml2sc_suite``)."""
