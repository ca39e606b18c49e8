// Generated code from onnx.proto lands here (tools/generate-onnx-proto).
