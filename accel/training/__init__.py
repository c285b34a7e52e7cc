"""Training: the model zoo, the layer factory (float and Brevitas), the quantizers, the fit loop and
the exporter that writes model files through the core's file format. The only part of accel that
imports torch and Brevitas."""
